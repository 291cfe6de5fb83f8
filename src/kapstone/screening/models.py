"""Screening records: intake versions, the engine's results, prescriber overrides, the outside treatment team's
consultation log and informed-consent signatures. Rows are written only by services.py, which audits each."""

import datetime
import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models

from kapstone.patients.models import ExternalClinician, Patient


class IntakeVersion(models.Model):
    """One saved state of a patient's intake. Every save is a new row, so the history can always be replayed.

    A complete version passed validate_intake and was screened; a draft (the patient's pre-intake, or staff work
    in progress) holds what was given so far and waits for staff to review and complete it."""

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        PATIENT = "patient", "Patient (pre-intake)"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="intake_versions")
    number = models.PositiveIntegerField()
    data = models.JSONField()
    source = models.CharField(max_length=10, choices=Source.choices)
    is_complete = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "-number"]
        constraints = [models.UniqueConstraint(fields=["patient", "number"], name="one_intake_number_per_patient")]

    def __str__(self) -> str:
        return f"intake v{self.number} of patient {self.patient_id}"


class Decision(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    NEEDS_REVIEW = "needs_review", "Needs review"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"


class ScreeningResult(models.Model):
    """The engine's answer for one complete intake version, and what changed since the previous answer."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="screening_results")
    intake_version = models.ForeignKey(IntakeVersion, on_delete=models.PROTECT, related_name="results")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reasons = models.JSONField(default=list)
    treatment_resistant = models.BooleanField()
    maudsley_score = models.PositiveSmallIntegerField(null=True)
    rule_set_version = models.CharField(max_length=20)
    result = models.JSONField(help_text="engine.ScreeningResult.to_dict()")
    # {"previous_result_id", "decision_before", "fields": [{field, before, after}], "reasons_added": [...],
    #  "reasons_removed": [...]}; empty for a patient's first screening.
    changes = models.JSONField(default=dict)
    screened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "-id"]
        indexes = [models.Index(fields=["patient", "-id"])]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} for patient {self.patient_id} (v{self.rule_set_version})"

    @property
    def assessed_on(self) -> datetime.date:
        """The day the screening's intake was assessed (its blood pressure and medicines taken): what is recorded
        after it is new to this screening."""
        return datetime.date.fromisoformat(self.result["assessment_date"])

    @property
    def benzodiazepine_load_incomplete(self) -> bool:
        """Some benzodiazepine could not be converted, so the load shown is only part of the real one."""
        return any(reason.get("rule") == "benzodiazepine_dose_not_converted" for reason in self.reasons)


class ScreeningOverride(models.Model):
    """A prescriber's written decision to go ahead despite "needs review". It belongs to one result only: a
    re-screen makes a new result that needs its own override."""

    result = models.OneToOneField(ScreeningResult, on_delete=models.CASCADE, related_name="override")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    justification = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"override of result {self.result_id}"


def reply_file_path(instance, filename: str) -> str:
    # A random name: the original file name may carry the patient's name, and names must not be guessable.
    suffix = PurePosixPath(filename).suffix.lower()
    return f"screening/replies/{secrets.token_hex(16)}{suffix}"


def names_compared(name: str) -> str:
    """A name as two are compared: case and spacing ignored ("dr.  RIVERA" is "dr. rivera")."""
    return " ".join(name.casefold().split())


class Consultation(models.Model):
    """One contact with the patient's outside treatment team about KAP."""

    class Method(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        MEETING = "meeting", "Meeting"

    class Outcome(models.TextChoices):
        SUPPORTS = "supports", "Supports KAP"
        CONCERNS = "concerns", "Raised concerns"
        ADVISED_AGAINST = "advised_against", "Advised against KAP"
        NO_REPLY = "no_reply", "No reply yet"
        DECLINED = "declined", "Declined to comment"

    # Advice from the outside team: any of these means the team has been consulted. A clinician's latest advice is
    # what the gate reads; concerns or advice against block until a prescriber records an override.
    CONSULTED_OUTCOMES = (Outcome.SUPPORTS, Outcome.CONCERNS, Outcome.ADVISED_AGAINST)
    BLOCKING_OUTCOMES = (Outcome.CONCERNS, Outcome.ADVISED_AGAINST)
    # A contact that gave no advice. A clinician of a kind the practice requires (screening setting
    # consult_clinician_kinds) who has given none holds the gate until a prescriber records an override on their
    # latest such contact: a written decision to go ahead without their advice.
    NO_ANSWER_OUTCOMES = (Outcome.NO_REPLY, Outcome.DECLINED)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consultations")
    external_clinician = models.ForeignKey(
        ExternalClinician, null=True, blank=True, on_delete=models.SET_NULL, related_name="consultations"
    )
    # Who was contacted, as written at the time: the name survives if the outside-team entry is removed.
    clinician_name = models.CharField(max_length=200)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    contacted_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=Method.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    notes = models.TextField(blank=True)
    reply_file = models.FileField(upload_to=reply_file_path, blank=True, max_length=200)
    reply_content_type = models.CharField(max_length=40, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "-contacted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} with {self.clinician_name}: {self.get_outcome_display()}"

    @property
    def adviser_key(self) -> str:
        """Who gave the advice: the outside-team entry, else the name as written, so each adviser's latest advice
        is read on its own."""
        if self.external_clinician_id:
            return f"clinician:{self.external_clinician_id}"
        return "name:" + names_compared(self.clinician_name)

    def typed_for(self, clinician: ExternalClinician) -> bool:
        """Whether this contact was typed by name, not chosen from the outside-team list, with the name of `clinician`
        on the list (or as the list shows them, "Psychiatrist: Dr. Rivera"), case and spacing ignored. It does not
        count as that clinician's advice: a typed contact has no kind, so the gate cannot tell it is the same person."""
        return self.external_clinician_id is None and names_compared(self.clinician_name) in {
            names_compared(clinician.name),
            names_compared(str(clinician)),
        }


class ConsultationOverride(models.Model):
    """A prescriber's written decision to go ahead despite one piece of outside advice (concerns or advice against),
    or without the advice of a clinician the practice requires after a contact that had no reply or that they
    declined. It belongs to that consultation only: new concerns, or a later contact, need their own override."""

    consultation = models.OneToOneField(Consultation, on_delete=models.CASCADE, related_name="override")
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"override of consultation {self.consultation_id}"


class ConsentSignature(models.Model):
    """A signature on one version of the consent form; the hash pins the exact text that was signed."""

    class Kind(models.TextChoices):
        ELECTRONIC = "electronic", "Electronic (portal)"
        PAPER = "paper", "Paper, witnessed by staff"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consent_signatures")
    form_id = models.CharField(max_length=60)
    form_version = models.CharField(max_length=20)
    text_sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    signed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    ip_address = models.CharField(max_length=45, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["patient", "-signed_at", "-id"]

    def __str__(self) -> str:
        return f"consent {self.form_id} v{self.form_version} by patient {self.patient_id}"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None
