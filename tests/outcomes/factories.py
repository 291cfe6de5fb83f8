"""A small synthetic practice for the outcomes tests, with identifiers distinctive enough to search for."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.dosing.models import AdverseEvent, DoseRecord, Route, VitalsReading
from kapstone.integration.models import IntegrationNote, IntegrationWindow, JournalEntry
from kapstone.measures.models import Assessment
from kapstone.patients.models import CareTeamMembership, Diagnosis, ExternalClinician, Patient
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.conftest import make_user

TEMPLATE = "group-kap-programme"
FIRST_DOSING = datetime.datetime(2025, 3, 4, 14, 0, tzinfo=datetime.UTC)
DOSING_SESSIONS = 4
# Baseline and end-of-course PHQ-9 totals per patient; the report's numbers are checked against these.
PHQ9_PAIRS = [(20, 8), (17, 12), (22, 4), (15, 15), (19, 9), (12, 13)]
GAD7_PAIRS = [(14, 6), (11, 9), (16, 5), (10, 10), (13, 7), (9, 10)]
# AUT top-2 originality at baseline and end of course (the last patient did not do the end-of-course task).
ORIGINALITY_PAIRS = [(2.1, 2.9), (2.5, 2.6), (1.8, 2.7), (3.0, 2.8), (2.2, 3.1), (2.4, None)]


@dataclass
class SyntheticPractice:
    staff: dict
    patients: list[Patient]
    group: Group
    sessions: list[GroupSession]
    real_dates: dict[int, set[datetime.date]] = field(default_factory=dict)


def identifiers(patient: Patient) -> list[str]:
    """Every direct identifier of the patient as it could appear in a file."""
    born = patient.date_of_birth
    values = [
        patient.given_name,
        patient.family_name,
        patient.email,
        patient.phone,
        patient.postal_code,
        patient.emergency_contact_name,
        patient.emergency_contact_phone,
        patient.record_number,
        born.isoformat(),
        born.strftime("%m/%d/%Y"),
        born.strftime("%d/%m/%Y"),
        born.strftime("%Y%m%d"),
    ]
    values += [line for line in patient.address.splitlines() if line.strip()]
    values += [clinician.name for clinician in patient.external_team.all()]
    return values


def _patient(index: int, *, born: datetime.date, team) -> Patient:
    patient = Patient.objects.create(
        given_name=f"Quorvexa{index}",
        family_name=f"Zindelbrook{index}",
        date_of_birth=born,
        sex="female" if index % 2 else "male",
        gender_identity="woman" if index % 2 else "Galactic wanderer",
        email=f"quorvexa{index}@privacy.example",
        phone=f"555-77{index:02d}-31",
        address=f"{700 + index} Hollowmere Crescent\nWexbridge Falls",
        postal_code=f"0{7310 + index}",
        emergency_contact_name=f"Thaddeus Mirrowgate{index}",
        emergency_contact_phone=f"555-88{index:02d}-42",
    )
    for position, member in enumerate(team):
        CareTeamMembership.objects.create(patient=patient, staff=member, is_lead=position == 0)
    code = ("F33.2", "MDD, recurrent severe") if index != 3 else ("F43.12", "PTSD, chronic")
    Diagnosis.objects.create(patient=patient, icd10_code=code[0], description=code[1], is_primary=True)
    ExternalClinician.objects.create(
        patient=patient, kind=ExternalClinician.Kind.PSYCHIATRIST, name=f"Dr. Oberwald Pindlesby{index}"
    )
    return patient


def _assessment(patient, instrument_id, occasion, total, when) -> Assessment:
    return Assessment.objects.create(
        patient=patient,
        instrument_id=instrument_id,
        occasion=occasion,
        due_at=when,
        status=Assessment.Status.COMPLETED,
        total=total,
        completed_at=when,
    )


def _creativity(patient, occasion, originality, when) -> CreativityAdministration:
    return CreativityAdministration.objects.create(
        patient=patient,
        task=Task.AUT,
        occasion=occasion,
        form_id="A",
        forms_version=1,
        prompts=[{"object": "brick"}],
        seconds_per_part=120,
        due_at=when,
        expires_at=when + datetime.timedelta(days=7),
        status=CreativityAdministration.Status.COMPLETED,
        submitted_at=when,
        fluency=6.0,
        flexibility=3.0,
        originality_mean=originality - 0.4,
        originality_top2=originality,
        elaboration_mean=1.0,
    )


def build_practice(count: int = len(PHQ9_PAIRS)) -> SyntheticPractice:
    prescriber = make_user("dr.outcomes", Role.PRESCRIBER)
    therapist = make_user("theo.outcomes", Role.THERAPIST)
    nurse = make_user("nina.outcomes", Role.NURSE)
    today = timezone.localdate()
    births = [datetime.date(1961, 2, 14), datetime.date(1990, 7, 3), today.replace(year=today.year - 95)]
    patients = [
        _patient(
            index,
            born=births[index % len(births)] if index < 3 else datetime.date(1975 + index, 11, 29),
            team=[prescriber, therapist, nurse],
        )
        for index in range(count)
    ]
    group = Group.objects.create(
        name="Cohort Wexbridge",
        template_id=TEMPLATE,
        template_version=1,
        min_size=3,
        max_size=8,
        start_date=FIRST_DOSING.date() - datetime.timedelta(days=14),
        status=Group.Status.COMPLETED,
    )
    group.facilitators.set([prescriber, therapist])
    for patient in patients:
        Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.COMPLETED)
    sessions = []
    for number in range(1, DOSING_SESSIONS + 1):
        starts = FIRST_DOSING + datetime.timedelta(weeks=number - 1)
        session = GroupSession.objects.create(
            group=group,
            kind=GroupSession.Kind.DOSING,
            number=number,
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=3),
        )
        session.facilitators.set([prescriber, therapist])
        sessions.append(session)
    practice = SyntheticPractice(
        {"prescriber": prescriber, "therapist": therapist, "nurse": nurse}, patients, group, sessions
    )
    baseline_at = FIRST_DOSING - datetime.timedelta(days=5, hours=3)
    end_at = sessions[-1].starts_at + datetime.timedelta(days=9, hours=7)
    for index, patient in enumerate(patients):
        dates = practice.real_dates.setdefault(patient.pk, set())
        phq_baseline, phq_end = PHQ9_PAIRS[index]
        gad_baseline, gad_end = GAD7_PAIRS[index]
        _assessment(patient, "phq9", "baseline", phq_baseline, baseline_at)
        _assessment(patient, "gad7", "baseline", gad_baseline, baseline_at)
        _assessment(patient, "phq9", "end_of_course", phq_end, end_at)
        _assessment(patient, "gad7", "end_of_course", gad_end, end_at)
        dates |= {baseline_at.date(), end_at.date(), timezone.localtime(baseline_at).date()}
        for number, session in enumerate(sessions, start=1):
            if number > 1:
                at = session.starts_at - datetime.timedelta(days=2)
                _assessment(patient, "phq9", f"pre_dosing_{number}", phq_baseline - (number - 1) * 2, at)
                dates |= {at.date(), timezone.localtime(at).date()}
            given = session.starts_at + datetime.timedelta(minutes=30)
            record = DoseRecord.objects.create(
                session=session,
                patient=patient,
                route=Route.SUBLINGUAL if index % 3 else Route.IM,
                dose_mg=Decimal(100 + 50 * (number % 2)),
                weight_kg=Decimal("70.5"),
                administered_at=given,
                intention="I intend to forgive my sister Marguerite Vandersloot",
                notes="Nurse note about Quorvexa's kitchen",
            )
            dates |= {given.date(), timezone.localtime(given).date()}
            VitalsReading.objects.create(
                record=record,
                phase="pre",
                taken_at=given - datetime.timedelta(minutes=10),
                systolic=172,
                diastolic=95 if number == 1 else 80,
                heart_rate=80,
                spo2=98,
                alert_level="review" if number == 1 else "",
                recorded_by=nurse,
            )
            if number == 2 and index < 2:
                AdverseEvent.objects.create(
                    record=record,
                    occurred_at=given + datetime.timedelta(minutes=50),
                    kind="nausea",
                    severity=AdverseEvent.Severity.MILD,
                    description="Vomited on Hollowmere Crescent",
                    action_taken="ondansetron",
                    recorded_by=nurse,
                )
            window = IntegrationWindow.objects.create(
                patient=patient, dose_record=record, dosing_session=session, dosed_at=given
            )
            if index % 2 == 0:
                JournalEntry.objects.create(
                    patient=patient,
                    window=window,
                    text="Dreamt of Wexbridge Falls and my dog Biscuitmorrow",
                    created_at=given + datetime.timedelta(hours=20),
                )
        for occasion, originality, at in (
            ("baseline", ORIGINALITY_PAIRS[index][0], baseline_at),
            ("end_of_course", ORIGINALITY_PAIRS[index][1], end_at),
        ):
            if originality is not None:
                _creativity(patient, occasion, originality, at)
        IntegrationNote.objects.create(
            patient=patient, session=sessions[0], author=therapist, text="Talked about Zindelbrook family secrets"
        )
    return practice
