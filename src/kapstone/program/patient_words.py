"""What a patient reads for each kind of session, wherever the portal names one (their course on the home, their
timeline): plain words, where staff pages say the kind's label ("Dosing session")."""

from kapstone.program.models import GroupSession

PATIENT_SESSION_WORDS: dict[str, str] = {
    GroupSession.Kind.PREPARATION: "Preparation session",
    GroupSession.Kind.DOSING: "Ketamine session",
    GroupSession.Kind.INTEGRATION: "Integration session",
    GroupSession.Kind.FOLLOW_UP: "Follow-up visit",
}
