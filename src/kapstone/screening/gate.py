"""The enrolment gate: a patient may join a group course, and be dosed on the day, only when all of these hold.

1. The patient is at least the practice's minimum age (screening setting min_age_years, never below 18), counted
   from the date of birth on the record on the day asked, so a record corrected after screening still blocks; and a
   patient at or over the older-adult age (older_adult_age_years, never above 65) on the record has a screening
   that reviewed it.
2. The latest screening decision is eligible, or it is "needs review" and a prescriber has overridden that very
   result with a written justification. "Not eligible" can never be overridden.
3. That screening is current: its intake's assessment date (when its blood pressure and medications were taken)
   is no more than the practice's screening_valid_days before the day asked, and the intake records a blood
   pressure. A new course needs a current screening, so on a dosing day the dosing room asks on the first day of
   the patient's course (`course_starts`): a screening current when the course began stays good for that course,
   while the same-day checks (vitals, medicines since screening, suicide risk) cover the days since.
4. The outside treatment team has been consulted (a contact whose outcome is advice: supports, concerns or
   advised against) by at least one outside clinician and by each clinician on the patient record whose kind the
   practice requires (screening setting consult_clinician_kinds: by default the psychiatrist and the therapist),
   unless a prescriber has recorded a decision to go ahead without that clinician's advice on their latest contact,
   which had no reply or which they declined; and each outside clinician's latest advice supports KAP, or its
   concerns or advice against carry a prescriber's override.
5. The current version of the informed-consent form is signed and not withdrawn.
6. Each diagnosis coded on the patient record that the screening reviews (rules/record_diagnoses.yaml maps ICD-10-CM
   code prefixes to the intake answer or rule that reviews them) shows in the latest screening: its intake answers it
   (yes, a date, a listed disorder) or its rule fired. A psychotic or bipolar disorder, an aneurysm, a haemorrhage or
   a pregnancy coded on the record after, or despite, an intake that said no holds the patient until a new screening
   reviews it, or until the record is corrected when the code no longer applies. So does a substance use disorder
   (F10-F16, F18) whose class the intake did not list, active or in remission: an alcohol use disorder on the record
   of a patient whose intake listed none, or only cannabis, was never weighed by the screening's rules. And so does
   a diagnosis the intake answered but that the record notes on a later day than the screening's assessment (a
   relapse of a use disorder weighed as in remission, a manic episode of a bipolar disorder weighed, a new heart
   attack): the screening weighed the patient as they were (record_diagnoses.yaml noted_after_screening). A use
   disorder the record codes as not in remission (F16.20, not F16.21), undated or noted after the last use the intake
   gives, when the screening weighed every disorder of its class as in remission, holds too: active, a dissociative
   one excludes (use_disorder_in_remission).

program.services.enrol calls enrolment_blockers(); the dosing room reads gate_statuses() on the day; the screening
page shows the same reasons.

7. The patient's own answers sent from the portal (a pre-intake) after the intake of the latest screening, laid over
   that intake, raise no screening rule the screening did not: a pregnancy, a psychosis or an aneurysm the patient
   reports after screening holds them until staff complete a new intake with it and the screening weighs it, and so
   does anything they write there about alcohol or drugs, which only staff can turn into answers a rule reads. Their
   medicines are the dosing room's to weigh with those on the record (GateStatus.patient_answers).
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max, QuerySet
from django.utils import timezone

from kapstone.compiled_once import KEYS, compiled_once
from kapstone.patients.ages import completed_years
from kapstone.patients.models import Diagnosis, ExternalClinician, Patient
from kapstone.practice.settings_store import practice_overrides
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.screening.changes import merge_draft
from kapstone.screening.consent_forms import ConsentForm, current_form
from kapstone.screening.engine import (
    Data,
    RecordDiagnosis,
    RuleSet,
    SettingsOverrideError,
    declared_substances,
    load_rule_set,
    screen,
    weighed_in_remission,
)
from kapstone.screening.intake_schema import IntakeValidationError
from kapstone.screening.models import ConsentSignature, Consultation, Decision, IntakeVersion, ScreeningResult
from kapstone.screening.services import SETTINGS_PREFIX

# The screening rule that asks the prescriber to review an older adult (rules/kap_screening.yaml).
OLDER_ADULT_RULE = "older_adult"


@dataclass(frozen=True)
class GateStatus:
    result: ScreeningResult | None
    consulted: bool
    consent: ConsentSignature | None  # the signature on the current form version still in force
    withdrawn_consent: ConsentSignature | None  # the latest withdrawn one, to say so plainly
    blockers: tuple[str, ...]
    # The outside advice that blocks (each clinician's latest, concerns or advised against, not overridden).
    advice_against: tuple[Consultation, ...] = ()
    expires_on: datetime.date | None = None  # the last day the latest screening is current
    # The patient's latest own answers (pre-intake) when sent after the intake the latest screening judged.
    patient_answers: IntakeVersion | None = None
    # The clinicians on the record of a kind the practice requires who have given no advice and whom no prescriber
    # has decided to go ahead without, and of those the latest contacts that had no answer: what a prescriber may
    # override to go ahead without their advice.
    unconsulted: tuple[ExternalClinician, ...] = ()
    no_answer: tuple[Consultation, ...] = ()
    # The kinds of outside clinician whose advice the practice requires (consult_clinician_kinds), as judged by.
    required_kinds: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        return not self.blockers


def gate_settings(overrides: Data | None = None) -> Data:
    """The screening settings the gate reads: the rule set's cited defaults with the practice's own values
    (`overrides`, when the caller has read practice_overrides(SETTINGS_PREFIX) already)."""
    if overrides is None:
        overrides = practice_overrides(SETTINGS_PREFIX)
    return {**load_rule_set().setting_values(), **overrides}


def latest_advice(consultations: Iterable[Consultation]) -> list[Consultation]:
    """Each outside clinician's latest advice (supports, concerns or advised against), newest first."""
    latest: dict[str, Consultation] = {}
    for entry in sorted(consultations, key=lambda c: (c.contacted_at, c.pk), reverse=True):
        if entry.outcome in Consultation.CONSULTED_OUTCOMES:
            latest.setdefault(entry.adviser_key, entry)
    return list(latest.values())


# The gate's reads, compiled once for each number of patients (the dosing room asks on every load). Unordered
# (order_by()): the results are looked up by patient and each patient's advice is sorted by latest_advice, so the
# models' default orders only cost the reads.


@compiled_once(patient_ids=KEYS)
def _latest_results(*, patient_ids: list[int]) -> QuerySet[ScreeningResult]:
    """Each patient's latest screening, with whether it is overridden and the intake it judged, which the gate
    decides by, not who overrode it, which the gate never reads: the screening page, which names them, reads its own
    rows (gate_status_of_rows)."""
    latest_ids = (
        ScreeningResult.objects.filter(patient_id__in=patient_ids)
        .values("patient_id")
        .annotate(latest_id=Max("id"))
        .values("latest_id")
    )
    return ScreeningResult.objects.filter(pk__in=latest_ids).select_related("override", "intake_version").order_by()


@compiled_once(patient_ids=KEYS)
def _consultations(*, patient_ids: list[int]) -> QuerySet[Consultation]:
    """Every contact, of any outcome: a required clinician's latest contact without an answer may carry a
    prescriber's decision to go ahead without their advice."""
    return Consultation.objects.filter(patient_id__in=patient_ids).select_related("override").order_by()


@compiled_once(patient_ids=KEYS)
def _outside_team(*, patient_ids: list[int]) -> QuerySet[ExternalClinician]:
    """The outside clinicians on the patients' records. Unordered: _advice_blockers puts them in order."""
    return ExternalClinician.objects.filter(patient_id__in=patient_ids).order_by()


@compiled_once(patient_ids=KEYS)
def _diagnoses(*, patient_ids: list[int]) -> QuerySet[Diagnosis]:
    return Diagnosis.objects.filter(patient_id__in=patient_ids).order_by()


@compiled_once(patient_ids=KEYS)
def _latest_patient_answers(*, patient_ids: list[int]) -> QuerySet[IntakeVersion]:
    """Each patient's latest pre-intake (their own answers from the portal)."""
    latest_ids = (
        IntakeVersion.objects.filter(patient_id__in=patient_ids, source=IntakeVersion.Source.PATIENT)
        .values("patient_id")
        .annotate(latest_id=Max("id"))
        .values("latest_id")
    )
    return IntakeVersion.objects.filter(pk__in=latest_ids).order_by()


@compiled_once(patient_ids=KEYS)
def _signatures(form_id: str, versions: tuple[str, ...], *, patient_ids: list[int]) -> QuerySet[ConsentSignature]:
    """The patients' signatures of the consent form's accepted versions. Unordered: _consent_in_force puts each
    patient's signatures newest first."""
    return ConsentSignature.objects.filter(
        patient_id__in=patient_ids, form_id=form_id, form_version__in=versions
    ).order_by()


def gate_statuses(
    patients: Iterable[Patient],
    *,
    at: datetime.date | None = None,
    course_starts: dict[int, datetime.date] | None = None,
    settings: Data | None = None,
) -> dict[int, GateStatus]:
    """The gate of each patient on the day `at` (today by default), keyed by patient id, in a fixed number of
    queries however many patients (the dosing room shows it for everyone in the session). `course_starts` gives,
    for patients in a course, the course's first day: their screening's expiry is judged on that day. `settings`
    are gate_settings() when the caller has them (the room reads them with its own settings)."""
    patients = list(patients)
    patient_ids = [patient.pk for patient in patients]
    today = at or timezone.localdate()
    settings = gate_settings() if settings is None else settings
    results = {result.patient_id: result for result in _latest_results(patient_ids=patient_ids)}
    consultations: dict[int, list[Consultation]] = {}
    for entry in _consultations(patient_ids=patient_ids):
        consultations.setdefault(entry.patient_id, []).append(entry)
    team: dict[int, list[ExternalClinician]] = {}
    for clinician in _outside_team(patient_ids=patient_ids):
        team.setdefault(clinician.patient_id, []).append(clinician)
    form = current_form()
    signatures: dict[int, list[ConsentSignature]] = {}
    for signature in _signatures(form.id, tuple(form.accepted_versions), patient_ids=patient_ids):
        signatures.setdefault(signature.patient_id, []).append(signature)
    diagnoses: dict[int, list[Diagnosis]] = {}
    for diagnosis in _diagnoses(patient_ids=patient_ids):
        diagnoses.setdefault(diagnosis.patient_id, []).append(diagnosis)
    answers = {version.patient_id: version for version in _latest_patient_answers(patient_ids=patient_ids)}
    return {
        patient.pk: _status(
            patient,
            results.get(patient.pk),
            consultations.get(patient.pk, []),
            team.get(patient.pk, []),
            diagnoses.get(patient.pk, []),
            answers.get(patient.pk),
            *_consent_in_force(signatures.get(patient.pk, [])),
            form,
            settings,
            today,
            min(today, (course_starts or {}).get(patient.pk, today)),
        )
        for patient in patients
    }


def gate_status_of_rows(
    *,
    patient: Patient,
    latest: ScreeningResult | None,
    consultations: Iterable[Consultation],
    outside_team: Iterable[ExternalClinician],
    signatures: Iterable[ConsentSignature],
    diagnoses: Iterable[Diagnosis],
    patient_answers: IntakeVersion | None,
    at: datetime.date | None = None,
) -> GateStatus:
    """gate_status from rows the caller has read already, so a page that shows them does not read them twice (the
    screening page, issue 19): the patient's latest screening result (`latest`, read with its override and intake
    version, or None), all their consultations (read with their overrides) and consent signatures, of any outcome,
    form or version, the outside clinicians and the diagnoses on their record and their latest pre-intake
    (`patient_answers`, or None). It picks the signatures on the current form as gate_statuses' queries do, and
    decides the same."""
    form = current_form()
    today = at or timezone.localdate()
    on_form = [
        signature
        for signature in signatures
        if signature.form_id == form.id and signature.form_version in form.accepted_versions
    ]
    return _status(
        patient,
        latest,
        list(consultations),
        list(outside_team),
        list(diagnoses),
        patient_answers,
        *_consent_in_force(on_form),
        form,
        gate_settings(),
        today,
        today,
    )


def _consent_in_force(signatures: list[ConsentSignature]) -> tuple[ConsentSignature | None, ConsentSignature | None]:
    """Of one patient's signatures on the current form (any accepted version): the signature in force, and the
    latest withdrawn one, to say so plainly."""
    in_force: ConsentSignature | None = None
    withdrawn: ConsentSignature | None = None
    withdrawn_at: datetime.datetime | None = None
    # Newest first, so the first signature in force is the one that counts.
    for signature in sorted(signatures, key=lambda signature: (signature.signed_at, signature.pk), reverse=True):
        if signature.withdrawn_at is None:
            if in_force is None:
                in_force = signature
        elif withdrawn_at is None or signature.withdrawn_at > withdrawn_at:
            withdrawn, withdrawn_at = signature, signature.withdrawn_at
    return in_force, withdrawn


def _screening_blockers(
    result: ScreeningResult | None, settings: Data, today: datetime.date
) -> tuple[list[str], datetime.date | None]:
    if result is None:
        return ["screening has not been done"], None
    blockers: list[str] = []
    if result.decision == Decision.NOT_ELIGIBLE:
        blockers.append("screening decision is not eligible, which cannot be overridden")
    elif result.decision == Decision.NEEDS_REVIEW and not hasattr(result, "override"):
        blockers.append("screening decision is needs review without a prescriber's override")
    assessed = result.assessed_on
    expires_on = assessed + datetime.timedelta(days=settings["screening_valid_days"])
    if today > expires_on:
        blockers.append(
            f"screening of {day_in_words(assessed)} has expired (a screening is current for "
            f"{settings['screening_valid_days']} days); re-screen with fresh blood pressure and medications"
        )
    elif not (result.intake_version.data.get("vitals") or {}).get("systolic"):
        blockers.append("the screening's intake records no blood pressure; re-screen with a fresh blood pressure")
    return blockers, expires_on


def _older_adult_blockers(result: ScreeningResult | None, age: int, settings: Data) -> list[str]:
    """A patient at or over the older-adult age on the record's date of birth whose screening did not review it (the
    intake gave a younger age, the record was corrected, or the patient has had a birthday since): [spravato-pi]
    lowers the starting dose from 65 and older age predicts blood-pressure surges, so the prescriber reviews it
    through a new screening."""
    older = settings["older_adult_age_years"]
    if result is None or age < older:
        return []
    if any(reason["rule"] == OLDER_ADULT_RULE for reason in result.result.get("reasons") or []):
        return []
    return [
        f"the patient is {age} on the record's date of birth, but the screening of {_screened_on(result)} "
        f"did not review age {older} or over; re-screen so a prescriber reviews it"
    ]


def _screened_on(result: ScreeningResult) -> str:
    """The day the screening's intake was assessed, in words."""
    return day_in_words(result.assessed_on)


def _record_diagnosis_blockers(
    result: ScreeningResult | None, diagnoses: list[Diagnosis], rule_set: RuleSet
) -> list[str]:
    """Each diagnosis on the record that the screening reviews (rules/record_diagnoses.yaml) but whose review the
    latest screening does not show: the record was coded after the intake, or the intake said no. The rule that
    reviews it asks a prescriber to weigh it (or excludes the patient), so a new screening must see it. So does one the
    intake answered but that the record notes on a later day than the screening's assessment (noted_after_screening):
    a relapse, a new episode or a new event the screening could not weigh. Without a screening the gate holds
    already."""
    if result is None:
        return []
    intake = result.intake_version.data
    fired = {reason["rule"] for reason in result.result.get("reasons") or []}
    assessed = result.assessed_on
    # Each code once, with the latest day the record notes it.
    noted: dict[tuple[str, str], datetime.date | None] = {}
    for diagnosis in diagnoses:
        key = (diagnosis.icd10_code, diagnosis.description)
        days = [day for day in (noted.get(key), diagnosis.noted_on) if day is not None]
        noted[key] = max(days, default=None)
    blockers = []
    # By code, so the reasons read in the same order from the gate's reads and from the screening page's rows.
    for (code, description), noted_on in sorted(noted.items(), key=lambda item: item[0]):
        entry = rule_set.record_diagnosis(code)
        if entry is None:
            continue
        if not entry.reviewed_in(intake, fired):
            blockers.append(
                f"the record codes {code} ({description}), {entry.label}, but the screening of "
                f"{_screened_on(result)} did not review it{_substances_listed(entry, intake)}; re-screen so a "
                "prescriber reviews it, or correct the record if the code no longer applies"
            )
        elif noted_on is not None and noted_on > assessed:
            blockers.append(
                f"the record codes {code} ({description}), {entry.label}, noted on {day_in_words(noted_on)}, after "
                f"the screening of {_screened_on(result)}, which weighed the patient as its intake found them: a relapse, a new "
                "episode or a new event since is not weighed; re-screen so a prescriber weighs it, or correct the "
                "record's date if it was noted before the screening"
            )
        else:
            blockers += _active_use_disorder_blockers(result, entry, code, description, noted_on, assessed, rule_set)
    return blockers


def _active_use_disorder_blockers(
    result: ScreeningResult,
    entry: RecordDiagnosis,
    code: str,
    description: str,
    noted_on: datetime.date | None,
    assessed: datetime.date,
    rule_set: RuleSet,
) -> list[str]:
    """A use disorder the record codes as not in remission (F16.20) when the screening weighed every disorder of its
    class that the intake lists as in remission (record_diagnoses.yaml use_disorder_in_remission): active, a
    dissociative one excludes. A code noted on or before the latest last use the intake gives is the disorder as it
    was then; an undated one, or one noted after it, contradicts the screening."""
    disorders = entry.disorders_of_class(result.intake_version.data)
    if not disorders or rule_set.codes_in_remission(code):
        return []
    # The months the screening itself counted remission by (its settings as it ran), else the rule set's default.
    months = (result.result.get("settings") or {}).get("sud_remission_months")
    if isinstance(months, bool) or not isinstance(months, int | float):
        months = rule_set.setting_values()["sud_remission_months"]
    last_use = weighed_in_remission(disorders, assessed=assessed, remission_months=int(months))
    if last_use is None or (noted_on is not None and noted_on <= last_use):
        return []
    substances = ", ".join(str(disorder.get("substance") or "").strip() for disorder in disorders)
    return [
        f"the record codes {code} ({description}), {entry.label}, as not in remission, but the screening of "
        f"{_screened_on(result)} weighed it as in remission ({substances}, last used {day_in_words(last_use)}); "
        "re-screen with the last use as it is so a prescriber weighs it, or correct the record if it is in remission"
    ]


def _substances_listed(entry: RecordDiagnosis, intake: Data) -> str:
    """For a substance use disorder reviewed by its class, what the intake declared instead, so staff see why the
    record's code was not weighed (nothing declared, or another class) and what the new intake must name."""
    if not entry.substances:
        return ""
    declared = [substance.strip() for substance in declared_substances(intake) if substance.strip()]
    if not declared:
        return " (its intake lists no substance use disorder)"
    return f" (its intake lists a use disorder of {', '.join(declared)} only)"


# The parts of the patient's own answers the gate weighs: the safety questions. Their medicines are the dosing room's
# (GateStatus.patient_answers); their indications and past treatments are a brief account of what staff went through
# at screening, weighed by a new screening, not held against a dose.
PATIENT_ANSWER_PARTS = ("psychiatric", "medical")
# How much of the patient's own note a reason quotes: enough to see what it is about; the intake page shows it all.
NOTE_SHOWN = 120


def _answers_after_screening(result: ScreeningResult | None, answers: IntakeVersion | None) -> IntakeVersion | None:
    """The patient's latest own answers when sent after the intake the screening judged (its number is higher)."""
    if result is None or answers is None or answers.number <= result.intake_version.number:
        return None
    return answers


def patient_answers_after(result: ScreeningResult) -> IntakeVersion | None:
    """The patient's latest own answers (pre-intake) when sent after the intake `result` judged, as the gate weighs
    them: what a decision about one patient (an enrolment's medicines) reads beside the screening."""
    latest = next(iter(_latest_patient_answers(patient_ids=[result.patient_id])), None)
    return _answers_after_screening(result, latest)


def _patient_answer_blockers(result: ScreeningResult, answers: IntakeVersion, settings: Data) -> list[str]:
    """What the patient's own answers sent after the screening report that the screening did not weigh: the screening
    rules run on the judged intake with the answers' safety questions laid over it (a "no" or an answer left out
    changes nothing the screening found), and each rule that fires now and did not then holds the patient."""
    screened = result.intake_version.data
    reported = merge_draft(screened, {part: answers.data.get(part) or {} for part in PATIENT_ANSWER_PARTS})
    sent = f"the patient's own answers sent on {day_in_words(answers.created_at)}"
    since = f"after the screening of {_screened_on(result)}"
    try:
        outcome = screen(reported, settings_overrides=settings)
    except (IntakeValidationError, SettingsOverrideError):
        return [f"{sent}, {since}, cannot be read against it; complete a new intake with them"]
    fired = {reason["rule"] for reason in result.result.get("reasons") or []}
    new = [reason.message for reason in outcome.reasons if reason.rule not in fired]
    blockers = []
    if new:
        blockers.append(
            f"{sent}, {since}, report what it did not review ({' '.join(new)}); complete a new intake with them so "
            "the screening weighs it and a prescriber reviews it"
        )
    # What the patient writes about alcohol or drugs is free text no rule can read: staff turn it into the intake's
    # substance use disorders, which the screening weighs ([sanacora-2017] assess substance use before treatment;
    # [spravato-rems] misuse). Written after the screening, nobody has yet, so it holds like a reported answer.
    substance_use = ((answers.data.get("patient_notes") or {}).get("substance_use") or "").strip()
    if substance_use:
        shown = substance_use if len(substance_use) <= NOTE_SHOWN else substance_use[: NOTE_SHOWN - 1].rstrip() + "…"
        blockers.append(
            f"{sent}, {since}, tell of alcohol or drug use (“{shown}”) that no screening has weighed; complete a "
            "new intake with them so the screening weighs it and a prescriber reviews it"
        )
    return blockers


def _in_a_sentence(label: str) -> str:
    """A choice's label inside a sentence: its first letter lower-case, the rest as written ("Advised against KAP"
    reads "advised against KAP", not "kap")."""
    return label[:1].lower() + label[1:]


@dataclass(frozen=True)
class _Consultation:
    """What the gate finds of the outside team's consultation."""

    blockers: list[str]
    against: tuple[Consultation, ...]
    unconsulted: tuple[ExternalClinician, ...]
    no_answer: tuple[Consultation, ...]


def outside_role(kind: str) -> str:
    """ "psychiatrist", "primary-care doctor": what an outside clinician of `kind` is, inside a sentence ("the
    outside ...")."""
    if kind == ExternalClinician.Kind.OTHER:
        return "clinician"
    return _in_a_sentence(ExternalClinician.Kind(kind).label)


def _required_kinds(settings: Data) -> tuple[str, ...]:
    """The kinds of outside clinician whose advice the practice requires. A stored value that is not a list (a row
    written by hand) gives the cited default rather than no kind at all: the gate fails closed."""
    kinds = settings["consult_clinician_kinds"]
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        kinds = load_rule_set().settings["consult_clinician_kinds"].value
    return tuple(kinds)


def _advice_blockers(
    consultations: list[Consultation], team: list[ExternalClinician], required_kinds: Iterable[str]
) -> _Consultation:
    """The outside team's consultation: advice from at least one clinician; from each clinician on the record whose
    kind the practice requires, unless a prescriber decided to go ahead without it on their latest contact (which had
    no answer, or they would have advice); and each clinician's latest advice not against KAP unless overridden."""
    advice = [entry for entry in consultations if entry.outcome in Consultation.CONSULTED_OUTCOMES]
    advised = {entry.external_clinician_id for entry in advice}
    latest_contact: dict[int, Consultation] = {}
    for entry in sorted(consultations, key=lambda c: (c.contacted_at, c.pk), reverse=True):
        if entry.external_clinician_id is not None:
            latest_contact.setdefault(entry.external_clinician_id, entry)
    required = set(required_kinds)
    unconsulted = tuple(
        clinician
        for clinician in sorted(team, key=lambda c: (c.kind, c.name, c.pk))
        if clinician.kind in required
        and clinician.pk not in advised
        and not hasattr(latest_contact.get(clinician.pk), "override")
    )
    no_answer = tuple(latest_contact[clinician.pk] for clinician in unconsulted if clinician.pk in latest_contact)
    blockers = []
    for clinician in unconsulted:
        reason = f"the outside {outside_role(clinician.kind)} {clinician.name} has not been consulted"
        contact = latest_contact.get(clinician.pk)
        if contact is not None:
            reason += (
                f" ({_in_a_sentence(contact.get_outcome_display())} on {day_in_words(contact.contacted_at)}); log "
                "their advice, or a prescriber may record a decision to go ahead without it"
            )
        typed = max(
            (entry for entry in consultations if entry.typed_for(clinician)),
            key=lambda entry: (entry.contacted_at, entry.pk),
            default=None,
        )
        if typed is not None:
            # Written before a typed name of a listed clinician was refused, or before the clinician was listed.
            reason += (
                f"; the contact of {day_in_words(typed.contacted_at)} typed by name as “{typed.clinician_name}” does "
                "not count as theirs: log it again choosing them from the outside team list"
            )
        blockers.append(reason)
    if not advice and not unconsulted:
        blockers.append("the outside treatment team has not been consulted")
    against = tuple(
        entry
        for entry in latest_advice(advice)
        if entry.outcome in Consultation.BLOCKING_OUTCOMES and not hasattr(entry, "override")
    )
    blockers += [
        f"{entry.clinician_name} {_in_a_sentence(entry.get_outcome_display())} on {day_in_words(entry.contacted_at)}; "
        "a prescriber must record an override with a reason before the patient may go ahead"
        for entry in against
    ]
    return _Consultation(blockers, against, unconsulted, no_answer)


def _status(
    patient: Patient,
    result: ScreeningResult | None,
    consultations: list[Consultation],
    team: list[ExternalClinician],
    diagnoses: list[Diagnosis],
    answers: IntakeVersion | None,
    consent: ConsentSignature | None,
    withdrawn: ConsentSignature | None,
    form: ConsentForm,
    settings: Data,
    today: datetime.date,
    screened_for: datetime.date,
) -> GateStatus:
    blockers: list[str] = []
    age = completed_years(patient.date_of_birth, today)
    if age < settings["min_age_years"]:
        blockers.append(
            f"the patient is {age} on the record's date of birth; the practice treats adults from "
            f"{settings['min_age_years']}"
        )
    blockers += _older_adult_blockers(result, age, settings)
    blockers += _record_diagnosis_blockers(result, diagnoses, load_rule_set())
    answers = _answers_after_screening(result, answers)
    if result is not None and answers is not None:
        blockers += _patient_answer_blockers(result, answers, settings)
    screening, expires_on = _screening_blockers(result, settings, screened_for)
    blockers += screening
    required_kinds = _required_kinds(settings)
    consultation = _advice_blockers(consultations, team, required_kinds)
    blockers += consultation.blockers
    if consent is not None:
        withdrawn = None  # an old withdrawal is no news while a signature is in force
    elif withdrawn is not None:
        assert withdrawn.withdrawn_at is not None  # _consent_in_force gives a withdrawn signature here
        blockers.append(
            f"informed consent (form v{form.version}) was withdrawn on {day_in_words(withdrawn.withdrawn_at)}"
        )
    else:
        blockers.append(f"informed consent is not signed (form v{form.version})")
    consulted = not consultation.unconsulted and any(
        entry.outcome in Consultation.CONSULTED_OUTCOMES for entry in consultations
    )
    return GateStatus(
        result,
        consulted,
        consent,
        withdrawn,
        tuple(blockers),
        consultation.against,
        expires_on,
        answers,
        unconsulted=consultation.unconsulted,
        no_answer=consultation.no_answer,
        required_kinds=required_kinds,
    )


def gate_status(*, patient: Patient, at: datetime.date | None = None) -> GateStatus:
    return gate_statuses([patient], at=at)[patient.pk]


def enrolment_blockers(*, patient: Patient) -> list[str]:
    """Plain-language reasons the patient cannot join a group yet; an empty list means they may."""
    return list(gate_status(patient=patient).blockers)
