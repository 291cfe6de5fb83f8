import datetime
import threading
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kapstone import formrender
from kapstone.audit.models import AuditEvent
from kapstone.dosing import services
from kapstone.dosing.models import DoseRecord, LedgerEntry
from kapstone.dosing.signals import dose_administered
from kapstone.screening.gate import enrolment_blockers
from tests.dosing import helpers
from tests.dosing.helpers import signed


def test_a_dose_cannot_be_given_before_the_checklist_is_complete(cast, session, stock):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    record.dose_mg = Decimal("200")
    record.save()
    with pytest.raises(services.DosingError, match="fasting not confirmed.*no pre-dose vitals"):
        services.dose_administer(actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob))


def test_only_prescribers_order_doses(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="Only a prescriber"):
        services.dose_order(actor=cast.nurse, record=record, route="sublingual", dose_mg=Decimal("100"))


def test_an_order_above_the_ceiling_is_refused(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="above the practice ceiling"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("600"))


def test_giving_a_dose_needs_a_different_witness_and_moves_the_balance(
    cast, ready_record, stock, django_capture_on_commit_callbacks
):
    with pytest.raises(services.DosingError, match="witness"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.nurse))
    received = []
    dose_administered.connect(lambda sender, record, **kw: received.append(record), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    finally:
        dose_administered.disconnect(dispatch_uid="t")
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("1800")
    assert LedgerEntry.objects.filter(kind="administration", dose_record=ready_record).count() == 1
    assert received == [ready_record]


def test_a_positive_pregnancy_test_is_kept_stops_the_dose_and_reaches_the_record_and_the_gate(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    assert enrolment_blockers(patient=cast.alice) == []

    def check_in_positive():
        services.check_in(
            actor=cast.nurse,
            record=record,
            fasting_confirmed=True,
            escort_arranged=True,
            pregnancy_test="positive",
            intention="",
            weight_kg=None,
        )

    check_in_positive()
    record.refresh_from_db()
    assert record.pregnancy_test == "positive" and record.checked_in_at is not None
    with pytest.raises(services.DosingError, match="the test is positive, an absolute contraindication"):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    # On the patient record, where the enrolment gate and every later dosing day read it.
    [coded] = cast.alice.diagnoses.filter(icd10_code="Z32.01")
    assert coded.description == "Encounter for pregnancy test, result positive"
    assert coded.noted_on == timezone.localdate()
    [blocker] = enrolment_blockers(patient=cast.alice)
    assert blocker.startswith("the record codes Z32.01 (Encounter for pregnancy test, result positive), pregnancy")
    assert AuditEvent.objects.filter(object_type="diagnosis", action="create", patient_id=cast.alice.pk).exists()
    # The gate now holds the patient in the room too: a test recorded positive by mistake is put right by a
    # clinician correcting the record, not by checking in again.
    with pytest.raises(services.DosingError, match="the record codes Z32.01"):
        check_in_positive()
    assert cast.alice.diagnoses.filter(icd10_code="Z32.01").count() == 1


def test_discharge_waits_for_observation_time_and_normal_vitals(cast, ready_record, stock):
    given = timezone.now() - timezone.timedelta(minutes=60)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )

    def vitals(phase, minutes, systolic):
        services.vitals_record(
            actor=cast.nurse,
            record=ready_record,
            phase=phase,
            systolic=systolic,
            diastolic=80,
            heart_rate=76,
            spo2=97,
            taken_at=given + timezone.timedelta(minutes=minutes),
        )

    vitals("peak", 41, 140)
    services.ratings_record(actor=cast.nurse, record=ready_record, sedation_moaas=5, dissociation_cadss=3)
    vitals("discharge", 65, 185)
    with pytest.raises(services.DosingError, match="outside the practice's limits.*minimum 120 minutes"):
        services.discharge(
            actor=cast.nurse, record=ready_record, vitals_ok=True, alert_oriented=True, escort_present=True
        )
    vitals("discharge", 124, 128)
    services.discharge(
        actor=cast.nurse,
        record=ready_record,
        vitals_ok=True,
        alert_oriented=True,
        escort_present=True,
        now=given + timezone.timedelta(minutes=125),
    )
    with pytest.raises(services.DosingError, match="discharged"):
        services.vitals_record(
            actor=cast.nurse, record=ready_record, phase="other", systolic=120, diastolic=80, heart_rate=70, spo2=98
        )


def post_vitals(client, record, cast, phase, **extra):
    prefix = f"p{cast.alice.pk}-vitals-"
    values = {"phase": phase, "systolic": "124", "diastolic": "80", "heart_rate": "72", "spo2": "98", **extra}
    return client.post(
        reverse("dosing:room_action", args=[record.session_id, cast.alice.pk, "vitals"]),
        {prefix + key: value for key, value in values.items()},
    )


def said(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def test_a_check_after_the_dose_taken_too_early_is_said_at_once_with_when_to_take_it(
    cast, ready_record, stock, client_for
):
    given = timezone.now() - timezone.timedelta(minutes=10)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    due = timezone.localtime(given + timezone.timedelta(minutes=40))
    response = post_vitals(client_for(cast.nurse), ready_record, cast, "peak")
    assert response.status_code == 302
    assert said(response) == [
        (
            "warning",
            'Alice Abernathy: Saved as "About 40 min after", but taken 10 minutes after the dose: it does not count '
            f"as the check 40 minutes after it. Take it again from {due:%H:%M}.",
        )
    ]


def test_a_check_after_the_dose_on_time_or_another_phase_is_not_warned_about(cast, ready_record, stock, client_for):
    given = timezone.now() - timezone.timedelta(minutes=41)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    client = client_for(cast.nurse)
    assert said(post_vitals(client, ready_record, cast, "peak"))[0][0] == "success"
    assert said(post_vitals(client, ready_record, cast, "other"))[0][0] == "success"


def test_a_check_after_the_dose_recorded_before_any_dose_is_said_not_to_count(cast, checked_in, client_for):
    response = post_vitals(client_for(cast.nurse), checked_in, cast, "peak")
    assert said(response) == [
        (
            "warning",
            'Alice Abernathy: Saved as "About 40 min after", but no dose is given yet: it does not count as the '
            "check after the dose.",
        )
    ]


def test_a_dosed_card_says_when_discharge_may_come_and_a_discharged_one_does_not(cast, ready_record, stock, client_for):
    given = timezone.now() - timezone.timedelta(minutes=10)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[ready_record.session_id])).content.decode()
    until = timezone.localtime(given + timezone.timedelta(minutes=120))
    # Said before anyone presses "Discharge", which refuses until then.
    assert f"<strong>Discharge:</strong> not before {until:%H:%M} (120 min of observation)" in page
    DoseRecord.objects.filter(pk=ready_record.pk).update(discharged_at=timezone.now())
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[ready_record.session_id])).content.decode()
    assert "<strong>Discharge:</strong> not before" not in page


def test_ratings_sent_empty_are_refused_with_what_to_enter(cast, session, client_for):
    helpers.checked_in(cast, services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice))
    url = reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "ratings"])
    prefix = f"p{cast.alice.pk}-ratings-"
    response = client_for(cast.nurse).post(url, {prefix + "sedation_moaas": "", prefix + "dissociation_cadss": ""})
    assert response.status_code == 400
    assert "Enter the sedation (MOAA/S) rating, the dissociation (CADSS) total, or both." in response.content.decode()
    assert DoseRecord.objects.get(session=session, patient=cast.alice).ratings_at is None


def test_the_room_shows_every_patient_of_the_session(cast, session, client_for):
    page = client_for(cast.bob).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Alice Abernathy" in page and "Member0 Group" in page and "Member1 Group" in page


def test_a_stop_alert_is_visible_at_once(cast, session, client_for):
    client = client_for(cast.nurse)
    url = reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "vitals"])
    prefix = f"p{cast.alice.pk}-vitals-"
    response = client.post(
        url,
        {
            prefix + "phase": "peak",
            prefix + "systolic": "186",
            prefix + "diastolic": "104",
            prefix + "heart_rate": "88",
            prefix + "spo2": "97",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "STOP alert" in page and "at or above the stop threshold" in page


@pytest.mark.parametrize(
    "data,message",
    [
        (
            {"phase": "peak", "systolic": "80", "diastolic": "120", "heart_rate": "70", "spo2": "98"},
            "diastolic pressure must be below",
        ),
        (
            {"phase": "peak", "systolic": "abc", "diastolic": "80", "heart_rate": "70", "spo2": "98"},
            "Enter a whole number",
        ),
        (
            {"phase": "peak", "systolic": "120", "diastolic": "80", "heart_rate": "70", "spo2": "101"},
            "Above 100% is not a reading the room records: check the monitor and the number typed.",
        ),
        (
            {"phase": "peak", "systolic": "120", "diastolic": "80", "heart_rate": "12", "spo2": "98"},
            "Below 20/min is not a reading the room records: check the monitor and the number typed.",
        ),
    ],
)
def test_bad_vitals_are_explained_and_nothing_is_saved(cast, session, client_for, data, message):
    prefix = f"p{cast.alice.pk}-vitals-"
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "vitals"]),
        {prefix + k: v for k, v in data.items()},
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not DoseRecord.objects.filter(patient=cast.alice, vitals__isnull=False).exists()


def test_each_card_draws_its_empty_forms_under_its_own_names_and_the_posted_form_keeps_its_errors(
    cast, session, client_for
):
    """The room draws each kind of empty form once and gives it to every card under the card's prefix: each card's
    fields are named for its patient, and only the form posted with errors shows them and what was typed."""
    prefix = f"p{cast.alice.pk}-vitals-"
    response = client_for(cast.bob).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "vitals"]),
        {prefix + "phase": "peak", prefix + "systolic": "81", prefix + "diastolic": "120", prefix + "heart_rate": "70"},
    )
    page = response.content.decode()
    patients = [enrolment.patient_id for enrolment in session.group.enrolments.all()]
    assert len(patients) == 3
    for patient_id in patients:
        for action, field in [("vitals", "systolic"), ("checkin", "intention"), ("order", "dose_mg"), ("note", "text")]:
            name = f"p{patient_id}-{action}-{field}"
            assert f'name="{name}"' in page and f'id="id_{name}"' in page and f'for="id_{name}"' in page
    assert page.count('value="81"') == 1 and f'name="{prefix}systolic" value="81"' in page
    assert page.count("diastolic pressure must be below") == 1 and page.count("<details open>") == 1
    assert formrender.STAMP_PREFIX not in page


def test_a_refused_order_is_explained_in_the_room(cast, session, client_for):
    prefix = f"p{cast.alice.pk}-order-"
    response = client_for(cast.bob).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "order"]),
        {prefix + "route": "sublingual", prefix + "dose_mg": "900"},
    )
    assert response.status_code == 400 and "above the practice ceiling" in response.content.decode()


def test_a_refused_first_action_leaves_no_dose_record_behind(cast, session, client_for):
    prefix = f"p{cast.alice.pk}-order-"
    client_for(cast.bob).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "order"]),
        {prefix + "route": "sublingual", prefix + "dose_mg": "900"},
    )
    assert not DoseRecord.objects.filter(session=session, patient=cast.alice).exists()
    assert not AuditEvent.objects.filter(object_type="dose_record", patient_id=cast.alice.pk).exists()


def test_a_write_to_a_card_refused_by_its_service_leaves_no_dose_record_behind(cast, session):
    def refused(record):
        services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("900"))

    with pytest.raises(services.DosingError):
        services.dose_record_write(actor=cast.bob, session=session, patient=cast.alice, write=refused)
    assert not DoseRecord.objects.filter(session=session, patient=cast.alice).exists()
    assert not AuditEvent.objects.filter(object_type="dose_record", patient_id=cast.alice.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_tablets_giving_the_same_dose_at_once_take_it_from_the_log_once(cast, session, stock, ready_record):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    barrier = threading.Barrier(2)
    outcomes = []

    def give(actor, witness):
        from django.db import connections

        try:
            barrier.wait()
            record = DoseRecord.objects.get(pk=ready_record.pk)
            services.dose_administer(actor=actor, record=record, balance=stock, witness=witness)
            outcomes.append("given")
        except services.DosingError as refusal:
            outcomes.append(str(refusal))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=give, args=args)
        for args in ((cast.nurse, signed(cast.bob)), (cast.bob, signed(cast.nurse)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stock.refresh_from_db()
    assert sorted(outcomes) == ["This dose has already been given.", "given"]
    assert LedgerEntry.objects.filter(kind="administration", dose_record=ready_record).count() == 1
    assert stock.balance_mg == Decimal("1800")


def test_a_clinician_outside_the_group_cannot_open_the_room(cast, session, client_for):
    assert client_for(cast.charlie).get(reverse("dosing:room", args=[session.pk])).status_code == 404


def test_the_room_page_uses_the_same_number_of_queries_as_the_session_fills(cast, session, ready_record, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(cast.bob)
    url = reverse("dosing:room", args=[session.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    for _ in range(5):
        services.vitals_record(
            actor=cast.nurse, record=ready_record, phase="other", systolic=120, diastolic=80, heart_rate=70, spo2=98
        )
    with CaptureQueriesContext(connection) as second:
        client.get(url)
    assert len(second) == len(first)


@pytest.mark.django_db(transaction=True)
def test_two_tablets_adding_notes_at_once_both_keep_their_note(cast, session):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    barrier = threading.Barrier(2)
    failures = []

    def add(actor, text):
        from django.db import connections

        try:
            stale = DoseRecord.objects.get(pk=record.pk)
            barrier.wait()
            services.note_add(actor=actor, record=stale, text=text)
        except Exception as error:  # kept for the assertion below: a thread's exception would be lost
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=args) for args in ((cast.nurse, "NOTE-A"), (cast.bob, "NOTE-B"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record.refresh_from_db()
    assert failures == []
    assert "NOTE-A" in record.notes and "NOTE-B" in record.notes


def test_a_note_can_still_be_added_once_the_patient_is_discharged(cast, ready_record):
    DoseRecord.objects.filter(pk=ready_record.pk).update(discharged_at=timezone.now())
    services.note_add(actor=cast.nurse, record=ready_record, text="called home safely")
    assert "called home safely" in DoseRecord.objects.get(pk=ready_record.pk).notes


def check_in_again(cast, record, **changes):
    fields = {
        "fasting_confirmed": True,
        "escort_arranged": True,
        "pregnancy_test": "n/a",
        "intention": "to be kinder to myself",
        "weight_kg": Decimal("70"),
        "medication_changes": "no",
    }
    return services.check_in(actor=cast.nurse, record=record, **{**fields, **changes})


def test_the_checklist_is_closed_once_the_dose_is_given(cast, ready_record, stock):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    with pytest.raises(services.DosingError, match="^The dose has been given; the checklist is closed. Add a note"):
        check_in_again(cast, ready_record, fasting_confirmed=False, weight_kg=Decimal("25"))
    record = DoseRecord.objects.get(pk=ready_record.pk)
    assert record.weight_kg == Decimal("70") and record.fasting_confirmed
    assert AuditEvent.objects.filter(object_type="dose_record.checklist").count() == 1


def test_a_check_in_through_the_room_after_the_dose_is_refused_with_the_message(cast, ready_record, stock, client_for):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    prefix = f"p{cast.alice.pk}-checkin-"
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[ready_record.session.pk, cast.alice.pk, "checkin"]),
        {prefix + "pregnancy_test": "n/a", prefix + "weight": "25"},
    )
    assert response.status_code == 400 and "the checklist is closed" in response.content.decode()
    assert DoseRecord.objects.get(pk=ready_record.pk).weight_kg == Decimal("70")


def test_the_checklist_trail_names_every_field_it_sets_but_not_the_intention_itself(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in_again(
        cast, record, weight_kg=Decimal("68.5"), pregnancy_test="negative", pregnancy_test_on=timezone.localdate()
    )
    check_in_again(cast, record, intention="  ", weight_kg=None)
    first, second = (
        event.detail_data for event in AuditEvent.objects.filter(object_type="dose_record.checklist").order_by("id")
    )
    assert first == {
        "fasting": True,
        "escort": True,
        "pregnancy_test": "negative",
        "pregnancy_test_on": timezone.localdate().isoformat(),
        "weight_kg": "68.5",
        "weight_confirmed": False,
        "intention_given": True,
        "medication_changes": "no",
        "new_medications": 0,
    }
    assert second["weight_kg"] is None and second["intention_given"] is False
    assert not AuditEvent.objects.filter(detail__contains="kinder").exists()


def test_an_order_says_its_dose_once_without_a_trailing_zero_and_then_the_ceiling(
    cast, session, ready_record, client_for
):
    ready_record.refresh_from_db()  # the stored dose keeps one decimal place: 200.0
    page = client_for(cast.bob).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Sublingual lozenge 200 mg (" in page and "Within the ceiling of 400 mg." in page and "200.0 mg" not in page
    assert page.count("200 mg") == 1


def test_each_card_forms_button_says_what_it_records(cast, session, client_for):
    page = client_for(cast.bob).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert ">Save</button>" not in page
    assert ">Save vitals</button>" in page and ">Order the dose</button>" in page


def test_the_rooms_vitals_limits_are_listed_one_kind_a_line(cast, session, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert '<h2 id="limits-h">Vitals limits and observation</h2>' in page
    for term in ("Stop", "Review before dosing", "Review after dosing", "Review low values", "Observe"):
        assert f"<dt>{term}</dt>" in page
    assert "<dd>at least 120 min after the dose</dd>" in page


def test_the_checklist_opens_on_pregnancy_test_not_done_yet_not_on_not_applicable(cast, session, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    select = page[page.index(f'name="p{cast.alice.pk}-checkin-pregnancy_test"') :]
    options = select[: select.index("</select>")]
    assert options.index("Not done yet") < options.index("Not applicable")
    assert "selected>Not applicable" not in options


def test_a_checked_in_card_says_what_the_checklist_recorded(cast, session, checked_in, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert (
        '<p class="muted">Checklist: fasting confirmed · escort arranged · pregnancy test not applicable · 70.0 kg · '
        "no medicine changes since screening</p>"
    ) in page
    check_in_again(
        cast,
        checked_in,
        fasting_confirmed=False,
        pregnancy_test="negative",
        pregnancy_test_on=datetime.date(2026, 3, 4),
        weight_kg=None,
        medication_changes="",
    )
    assert DoseRecord.objects.get(pk=checked_in.pk).checklist_in_words == (
        "fasting not confirmed · escort arranged · pregnancy test negative (4 Mar) · not weighed today · "
        "medicine changes not asked"
    )


def test_the_dose_form_offers_every_witness_but_the_one_giving_the_dose(cast, session, ready_record, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    select = page[page.index(f'name="p{cast.alice.pk}-administer-witness"') :]
    options = select[: select.index("</select>")]
    assert f'value="{cast.bob.pk}"' in options and f'value="{cast.nurse.pk}"' not in options


def test_a_dose_sent_without_lot_or_witness_says_what_to_choose(cast, session, ready_record, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "administer"]), {}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose the lot and location the dose was taken from." in page
    assert "Choose the second staff member who saw the dose given." in page
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is None


def test_a_checked_in_cards_checklist_opens_on_what_was_recorded_so_sending_it_again_keeps_it(
    cast, session, checked_in, client_for
):
    """Drawn empty, a checklist sent again to correct the weight erased the fasting, the escort and the pregnancy
    test from the record."""
    client = client_for(cast.nurse)
    page = client.get(reverse("dosing:room", args=[session.pk])).content.decode()
    prefix = f"p{cast.alice.pk}-checkin-"
    form = page[page.index(f'name="{prefix}fasting_confirmed"') - 200 :]
    form = form[: form.index("</form>")]
    assert f'name="{prefix}fasting_confirmed" id="id_{prefix}fasting_confirmed" checked' in form
    assert f'name="{prefix}escort_arranged" id="id_{prefix}escort_arranged" checked' in form
    assert '<option value="n/a" selected>Not applicable</option>' in form
    assert '<option value="no" selected>No changes since screening</option>' in form
    assert f'name="{prefix}weight" value="70.0"' in form and "to be kinder to myself</textarea>" in form
    others = f"p{session.group.enrolments.exclude(patient=cast.alice).first().patient_id}-checkin-"
    assert f'name="{others}fasting_confirmed" id="id_{others}fasting_confirmed">' in page

    sent_again = {
        prefix + "fasting_confirmed": "on",
        prefix + "escort_arranged": "on",
        prefix + "pregnancy_test": "n/a",
        prefix + "weight": "71.0",
        prefix + "weight_unit": "kg",
        prefix + "medication_changes": "no",
        prefix + "intention": "to be kinder to myself",
    }
    client.post(reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "checkin"]), sent_again)
    checked_in.refresh_from_db()
    assert (checked_in.fasting_confirmed, checked_in.escort_arranged, checked_in.pregnancy_test) == (True, True, "n/a")
    assert checked_in.weight_kg == Decimal("71.0")


@pytest.mark.parametrize(
    ("act", "then"),
    [
        (
            lambda cast, record: services.ratings_record(
                actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0
            ),
            "rate sedation",
        ),
        (
            lambda cast, record: services.adverse_event_record(
                actor=cast.nurse, record=record, kind="nausea", severity="mild", description="", action_taken=""
            ),
            "record an adverse event",
        ),
        (
            lambda cast, record: services.discharge(
                actor=cast.nurse, record=record, vitals_ok=True, alert_oriented=True, escort_present=True
            ),
            "discharge",
        ),
    ],
)
def test_ratings_an_adverse_event_and_discharge_wait_for_the_check_in(cast, session, act, then):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match=f"Check the patient in first; then {then}"):
        act(cast, record)


def test_a_card_not_yet_checked_in_says_the_check_in_comes_first_and_offers_what_follows_after_it(
    cast, session, client_for
):
    url = reverse("dosing:room", args=[session.pk])
    before = client_for(cast.nurse).get(url).content.decode()
    card = before.split(f'id="patient-{cast.alice.pk}"')[1].split("</section>")[0]
    assert "Check the patient in first; then you can rate sedation and dissociation" in card
    assert '<td colspan="6" class="muted">No vitals recorded yet.</td>' in card
    assert f"p{cast.alice.pk}-ratings" not in card and f"p{cast.alice.pk}-discharge" not in card
    assert f"p{cast.alice.pk}-adverse" not in card
    helpers.checked_in(cast, services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice))
    after = client_for(cast.nurse).get(url).content.decode()
    card = after.split(f'id="patient-{cast.alice.pk}"')[1].split("</section>")[0]
    assert "Check the patient in first" not in card
    for action in ("ratings", "adverse", "discharge"):
        assert f"p{cast.alice.pk}-{action}" in card


def test_a_discharge_refused_for_several_reasons_lists_them_in_the_room(cast, session, checked_in, client_for):
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "discharge"]), {}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'Not ready for discharge:<ul class="refusal-reasons">' in page
    assert "<li>every discharge check must be confirmed</li>" in page
    assert "<li>take discharge vitals first</li>" in page
    # The service's own message still says it all in one sentence, for any other caller.
    with pytest.raises(services.DosingError) as refusal:
        services.discharge(
            actor=cast.nurse, record=checked_in, vitals_ok=False, alert_oriented=True, escort_present=True
        )
    assert str(refusal.value).startswith("Not ready for discharge: every discharge check must be confirmed; take")
    assert refusal.value.problems[:2] == ("every discharge check must be confirmed", "take discharge vitals first")


def test_the_room_names_its_session_as_the_home_page_does(cast, session, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert f"<h1>{session.group.name}: Dosing {session.number}</h1>" in page
    assert str(session) == f"{session.group.name}: Dosing {session.number}"
