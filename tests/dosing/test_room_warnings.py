"""What the room shows on each card before anyone acts: a closed enrolment gate, the doses of the week before, and
when the vitals reading after the dose is due."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import services
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program.models import Enrolment
from kapstone.screening import services as screening
from kapstone.screening.models import ConsentSignature
from tests.conftest import make_patient, signed_in_client
from tests.dosing.helpers import signed

GATE_WARNING = "Cannot be dosed today: the enrolment gate is closed"
WEEKLY_WARNING = "Cannot be dosed today: weekly limit reached"


def room_page(cast, session) -> str:
    """The room as bob, a prescriber facilitating the session, sees it."""
    response = signed_in_client(cast.bob).get(reverse("dosing:room", args=[session.pk]))
    assert response.status_code == 200
    return response.content.decode()


def card(page: str, patient) -> str:
    """The patient's card in the room page."""
    match = re.search(rf'<section [^>]*id="patient-{patient.pk}".*?</section>', page, re.S)
    assert match, f"no card for {patient}"
    return match.group(0)


def local_time(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def dose_alice(cast, record, stock, at):
    services.dose_administer(
        actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob), administered_at=at
    )


# The enrolment gate ----------------------------------------------------------------------------------------


def test_a_ready_patient_has_no_gate_warning(cast, session):
    alice = card(room_page(cast, session), cast.alice)
    assert GATE_WARNING not in alice and "Pre-dose checklist" in alice


def test_the_room_warns_on_opening_that_a_patient_who_withdrew_consent_cannot_be_dosed_today(cast, session):
    signature = ConsentSignature.objects.get(patient=cast.alice)
    screening.consent_withdraw(actor=cast.alice_user, signature=signature)
    alice = card(room_page(cast, session), cast.alice)
    assert f'<h3 id="gate-{cast.alice.pk}">⚠ {GATE_WARNING}</h3>' in alice
    assert re.search(r"<li>Informed consent \(form v\S+\) was withdrawn on \d{1,2} \w{3} \d{4}</li>", alice)


def test_the_other_patients_keep_their_forms_when_one_cannot_be_dosed(cast, session):
    page = room_page(cast, session)
    member = session.group.enrolments.exclude(patient=cast.alice).first().patient
    blocked = card(page, member)
    assert GATE_WARNING in blocked and "Screening has not been done" in blocked
    alice = card(page, cast.alice)
    assert GATE_WARNING not in alice
    assert reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "order"]) in alice


def test_the_gate_warning_is_not_shown_once_the_dose_is_given(cast, ready_record, stock):
    dose_alice(cast, ready_record, stock, timezone.now())
    signature = ConsentSignature.objects.get(patient=cast.alice)
    screening.consent_withdraw(actor=cast.alice_user, signature=signature)
    assert GATE_WARNING not in card(room_page(cast, ready_record.session), cast.alice)


# Doses in the week before ----------------------------------------------------------------------------------


def test_the_card_counts_the_doses_of_the_7_days_before(cast, session, earlier_dose):
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=3))
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=8))
    alice = card(room_page(cast, session), cast.alice)
    assert "<strong>Doses in the 7 days before:</strong> 1 (at most 2 a week)" in alice
    assert WEEKLY_WARNING not in alice


def test_the_card_warns_when_the_patient_already_had_the_weekly_maximum(cast, session, earlier_dose):
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=1))
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=5))
    alice = card(room_page(cast, session), cast.alice)
    assert f'<h3 id="week-{cast.alice.pk}">⚠ {WEEKLY_WARNING}</h3>' in alice
    since = day_in_words(timezone.localdate() - datetime.timedelta(days=6))
    assert (
        f"Alice Abernathy already had 2 doses in the 7 days before (the calendar days since {since}); the practice "
        "allows at most 2 a week."
    ) in alice


def test_the_warning_says_what_the_refusal_says(cast, ready_record, stock, earlier_dose):
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=1))
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=5))
    alice = card(room_page(cast, ready_record.session), cast.alice)
    with pytest.raises(services.DosingError) as refusal:
        dose_alice(cast, ready_record, stock, timezone.now())
    assert str(refusal.value) in alice


def test_a_dose_given_today_is_counted_against_the_week_before_it(cast, ready_record, stock, earlier_dose):
    given = timezone.now() - datetime.timedelta(minutes=30)
    earlier_dose(cast.alice, given - datetime.timedelta(days=4))
    dose_alice(cast, ready_record, stock, given)
    alice = card(room_page(cast, ready_record.session), cast.alice)
    assert "<strong>Doses in the 7 days before this one:</strong> 1 (at most 2 a week)" in alice
    assert WEEKLY_WARNING not in alice


# The vitals reading after the dose -------------------------------------------------------------------------


def test_the_card_shows_when_the_40_minute_vitals_are_due_and_that_they_are_not_taken(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=10)
    dose_alice(cast, ready_record, stock, given)
    alice = card(room_page(cast, ready_record.session), cast.alice)
    due = local_time(given + datetime.timedelta(minutes=40))
    assert re.search(rf"<strong>Vitals 40 min after the dose:</strong> due {due} ·\s+not taken yet<br>", alice)


def test_the_card_says_when_the_40_minute_vitals_are_overdue(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=50)
    dose_alice(cast, ready_record, stock, given)
    alice = card(room_page(cast, ready_record.session), cast.alice)
    assert f"due {local_time(given + datetime.timedelta(minutes=40))}" in alice
    assert "<strong>not taken yet, due now</strong>" in alice


def test_the_card_shows_the_40_minute_vitals_as_done_once_taken_at_the_mark(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=60)
    dose_alice(cast, ready_record, stock, given)
    for minutes in (30, 42):
        services.vitals_record(
            actor=cast.nurse,
            record=ready_record,
            phase="peak",
            systolic=128,
            diastolic=80,
            heart_rate=72,
            spo2=98,
            taken_at=given + datetime.timedelta(minutes=minutes),
        )
    alice = card(room_page(cast, ready_record.session), cast.alice)
    assert f"done at {local_time(given + datetime.timedelta(minutes=42))}" in alice


def test_no_vitals_are_due_before_the_dose(cast, ready_record):
    assert "min after the dose:" not in card(room_page(cast, ready_record.session), cast.alice)


# Query count ------------------------------------------------------------------------------------------------


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_room_reads_the_same_number_of_queries_as_doses_and_vitals_accumulate(
    cast, ready_record, stock, earlier_dose, client_for
):
    client, url = client_for(cast.bob), reverse("dosing:room", args=[ready_record.session.pk])
    dose_alice(cast, ready_record, stock, timezone.now() - datetime.timedelta(minutes=45))
    client.get(url)
    first = queries_for(client, url)
    for patient in [enrolment.patient for enrolment in ready_record.session.group.enrolments.all()]:
        earlier_dose(patient, timezone.now() - datetime.timedelta(days=2))
    for minutes in (41, 50, 60):
        services.vitals_record(
            actor=cast.nurse,
            record=ready_record,
            phase="peak",
            systolic=120,
            diastolic=80,
            heart_rate=70,
            spo2=98,
            taken_at=ready_record.administered_at + datetime.timedelta(minutes=minutes),
        )
    assert queries_for(client, url) == first


def test_a_patient_joining_the_session_adds_no_queries(cast, session, client_for):
    client, url = client_for(cast.bob), reverse("dosing:room", args=[session.pk])
    client.get(url)
    before = queries_for(client, url)
    newcomer = make_patient("Newcomer", "Group", team=[cast.bob, cast.therapist, cast.nurse])
    Enrolment.objects.create(group=session.group, patient=newcomer, status=Enrolment.Status.ENROLLED)
    assert queries_for(client, url) == before
