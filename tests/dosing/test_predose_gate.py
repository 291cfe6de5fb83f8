"""The same-day pre-dose gate: suicide risk (questionnaire alerts and the room's own C-SSRS screen) cleared only by a
prescriber's decision to proceed, the pregnancy check, and new medicines the screening rules would review."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.dosing.models import DoseRecord, RoomRiskAssessment
from kapstone.measures import services as measures
from kapstone.measures.models import AlertOccurrence
from kapstone.patients.models import Medication
from kapstone.practice.settings_store import practice_value_set
from kapstone.practice.signals import safety_event
from tests.dosing.helpers import NO_RISK_SCREEN, signed
from tests.measures.factories import due_assessment, open_alert

CSSRS_HIGH = {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0}
CSSRS_MODERATE = {1: 1, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0}
CSSRS_LOW = {1: 1, 2: 0, 6: 0}


def order(cast, record, mg="200"):
    return services.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal(mg))


def proceed(cast, record, *, answers=None, level=""):
    return services.risk_assessment_record(
        actor=cast.bob,
        record=record,
        answers=answers if answers is not None else ({} if level else NO_RISK_SCREEN),
        clinician_level=level,
        decision="proceed",
        note="Seen in the room: no intent or plan; safety plan reviewed.",
    )


@pytest.fixture
def events():
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    safety_event.connect(listener, weak=False, dispatch_uid="predose-gate-test")
    yield received
    safety_event.disconnect(dispatch_uid="predose-gate-test")


@pytest.fixture
def vitals_taken(cast, checked_in):
    services.vitals_record(
        actor=cast.nurse, record=checked_in, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    return checked_in


# Suicide risk ------------------------------------------------------------------------------------------------


def test_an_open_phq9_item_9_alert_blocks_the_order_until_a_prescriber_decides_to_proceed(cast, vitals_taken):
    open_alert(cast.alice)
    with pytest.raises(services.DosingError, match="Suicide risk to assess today: questionnaire alert: PHQ-9"):
        order(cast, vitals_taken)
    proceed(cast, vitals_taken)
    assert order(cast, vitals_taken).within


def test_acknowledging_the_alert_in_the_queue_is_not_enough(cast, vitals_taken):
    alert = open_alert(cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Called Alice; safety plan reviewed.")
    with pytest.raises(services.DosingError, match="acknowledging an alert in the queue is not enough"):
        order(cast, vitals_taken)


def test_an_alert_acknowledged_before_the_last_dose_no_longer_blocks(cast, vitals_taken, earlier_dose):
    alert = open_alert(cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Called Alice; safety plan reviewed.")
    AlertOccurrence.objects.filter(alert=alert).update(at=timezone.now() - datetime.timedelta(days=11))
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    assert order(cast, vitals_taken).within


def test_the_last_dose_is_the_latest_given_before_this_one_however_long_ago(cast, vitals_taken, earlier_dose):
    """An acknowledged alert is weighed against the latest dose given other than the record's own, whether or not
    it fell in the week before: the doses' one read serves both the week's count and the last dose (issue 19)."""
    now = timezone.now()
    alert = open_alert(cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Called Alice; safety plan reviewed.")
    AlertOccurrence.objects.filter(alert=alert).update(at=now - datetime.timedelta(days=15))
    earlier_dose(cast.alice, now - datetime.timedelta(days=30))
    earlier_dose(cast.alice, now - datetime.timedelta(days=10))
    readiness = selectors.dose_readiness(record=vitals_taken, at=now)
    assert readiness.suicide_alerts == () and readiness.doses_in_week_before == 0
    # The record's own dose, once given, is neither the last dose before it nor one of the week's.
    DoseRecord.objects.filter(pk=vitals_taken.pk).update(administered_at=now)
    AlertOccurrence.objects.filter(alert=alert).update(at=now - datetime.timedelta(days=1))
    readiness = selectors.dose_readiness(record=DoseRecord.objects.get(pk=vitals_taken.pk), at=now)
    assert [found.alert for found in readiness.suicide_alerts] == [alert]
    assert readiness.doses_in_week_before == 0


def test_an_open_high_cssrs_alert_blocks_even_when_raised_before_the_last_dose(cast, vitals_taken, earlier_dose):
    assessment = due_assessment(cast.alice, "cssrs-screener")
    measures.assessment_save_answers(actor=None, assessment=assessment, answers=CSSRS_HIGH, submit=True)
    earlier_dose(cast.alice, timezone.now() - datetime.timedelta(days=10))
    readiness = selectors.dose_readiness(record=vitals_taken, at=timezone.now())
    assert [alert.level for alert in readiness.suicide_alerts] == ["high"]
    with pytest.raises(services.DosingError, match="C-SSRS"):
        order(cast, vitals_taken)


def test_a_deferral_keeps_the_dose_blocked_and_says_who_deferred_it(cast, vitals_taken):
    open_alert(cast.alice)
    services.risk_assessment_record(
        actor=cast.bob, record=vitals_taken, clinician_level="moderate", decision="defer", note="Wait a week."
    )
    with pytest.raises(services.DosingError, match=r"Dose deferred by .* \(Wait a week\.\)"):
        order(cast, vitals_taken)
    proceed(cast, vitals_taken, level="low")
    assert order(cast, vitals_taken).within


def test_an_alert_raised_after_the_decision_blocks_again_even_the_administration(cast, vitals_taken, stock):
    open_alert(cast.alice)
    proceed(cast, vitals_taken)
    order(cast, vitals_taken)
    later = due_assessment(cast.alice, "cssrs-screener")
    measures.assessment_save_answers(actor=None, assessment=later, answers=CSSRS_HIGH, submit=True)
    with pytest.raises(services.DosingError, match="Suicide risk to assess today"):
        services.dose_administer(actor=cast.nurse, record=vitals_taken, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=vitals_taken.pk).administered_at is None


def test_only_a_prescriber_decides_and_a_decision_needs_a_note(cast, vitals_taken):
    with pytest.raises(services.DosingError, match="Only a prescriber decides"):
        services.risk_assessment_record(
            actor=cast.nurse, record=vitals_taken, answers=NO_RISK_SCREEN, decision="proceed", note="fine"
        )
    with pytest.raises(services.DosingError, match="Write a note with the decision"):
        services.risk_assessment_record(actor=cast.bob, record=vitals_taken, answers=NO_RISK_SCREEN, decision="defer")
    assert vitals_taken.risk_assessments.count() == 1  # the check-in's screen only


def test_a_screen_needs_every_question_the_screener_asks(cast, vitals_taken):
    with pytest.raises(services.DosingError, match="still unanswered: 3, 4, 5"):
        services.risk_assessment_record(actor=cast.nurse, record=vitals_taken, answers={1: 1, 2: 1, 6: 0})
    with pytest.raises(services.DosingError, match="either the C-SSRS screener answers or a clinician's"):
        services.risk_assessment_record(actor=cast.nurse, record=vitals_taken, answers={1: 0}, clinician_level="low")


@pytest.mark.parametrize(
    "answers,level,blocks", [(CSSRS_HIGH, "high", True), (CSSRS_MODERATE, "moderate", True), (CSSRS_LOW, "low", False)]
)
def test_a_room_screen_is_triaged_by_the_screener_and_a_positive_one_is_announced(
    cast, vitals_taken, events, django_capture_on_commit_callbacks, answers, level, blocks
):
    with django_capture_on_commit_callbacks(execute=True):
        screen = services.risk_assessment_record(actor=cast.nurse, record=vitals_taken, answers=answers)
    assert screen.risk_level == level
    readiness = selectors.dose_readiness(record=vitals_taken, at=timezone.now())
    assert bool(readiness.risk_refusal) is blocks
    if blocks:
        assert [(e["kind"], e["level"], e["object_id"]) for e in events] == [
            ("room_suicide_screen", "urgent", screen.pk)
        ]
        with pytest.raises(services.DosingError, match=f"room screen at .*: {level} risk"):
            order(cast, vitals_taken)
    else:
        assert events == []


def test_a_positive_screen_after_the_prescribers_decision_blocks_again(cast, vitals_taken):
    proceed(cast, vitals_taken, answers=CSSRS_MODERATE)
    assert order(cast, vitals_taken).within
    services.risk_assessment_record(actor=cast.nurse, record=vitals_taken, answers=CSSRS_HIGH)
    assert "room screen" in selectors.dose_readiness(record=vitals_taken, at=timezone.now()).risk_refusal


def test_the_same_day_screen_is_part_of_the_checklist_unless_the_practice_turns_it_off(cast, session, stock):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    assert "no same-day suicide screen" in "; ".join(selectors.checklist_missing(record=record))
    practice_value_set(actor=cast.bob, key="dosing.room_suicide_screen", value=False, reason="screened by phone")
    assert "no same-day suicide screen" not in "; ".join(selectors.checklist_missing(record=record))


# Pregnancy ---------------------------------------------------------------------------------------------------


def check_in(cast, record, **changes):
    fields = {
        "fasting_confirmed": True,
        "escort_arranged": True,
        "pregnancy_test": "n/a",
        "intention": "",
        "weight_kg": Decimal("70"),
        "medication_changes": "no",
    }
    return services.check_in(actor=cast.nurse, record=record, **{**fields, **changes})


def test_not_applicable_is_refused_unless_the_record_documents_no_childbearing_potential(cast, session):
    cast.alice.childbearing_potential = "yes"
    cast.alice.save()
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match='"not applicable" only where the patient record documents'):
        check_in(cast, record)
    check_in(cast, record, pregnancy_test="negative", pregnancy_test_on=timezone.localdate())


def test_the_rooms_not_applicable_refusal_links_to_where_the_record_is_put_right(cast, session, client_for):
    cast.alice.childbearing_potential = "yes"
    cast.alice.save()
    prefix = f"p{cast.alice.pk}-checkin-"
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "checkin"]),
        {prefix + "pregnancy_test": "n/a", prefix + "medication_changes": "no"},
    )
    page = response.content.decode()
    link = f'<a href="{reverse("patients:detail", args=[cast.alice.pk])}#childbearing">'
    assert response.status_code == 400 and "only where the patient record documents" in page
    assert f"{link}Record {cast.alice.full_name}'s childbearing potential on the patient page</a>" in page
    assert not DoseRecord.objects.filter(patient=cast.alice, checked_in_at__isnull=False).exists()


def test_the_cards_pregnancy_banner_links_to_the_record_when_no_test_is_recorded(cast, session, client_for):
    cast.alice.childbearing_potential = ""
    cast.alice.save()
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in(cast, record, pregnancy_test="")
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Pregnancy check not passed" in page
    assert f"{reverse('patients:detail', args=[cast.alice.pk])}#childbearing" in page
    # With a negative test too old, the fix is a new test, not the record: no link.
    check_in(cast, record, pregnancy_test="negative", pregnancy_test_on=timezone.localdate() - datetime.timedelta(3))
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "is too old" in page and "#childbearing" not in page


def test_a_negative_test_counts_only_within_the_practices_window(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    check_in(cast, record, pregnancy_test="negative", pregnancy_test_on=timezone.localdate() - datetime.timedelta(3))
    problem = selectors.dose_readiness(record=record, at=timezone.now()).pregnancy_refusal
    assert "is too old: the practice needs one on the day of the dose" in problem
    assert "the practice setting “A negative pregnancy test counts for”" in problem
    assert "a prescriber changes it" in problem and "dosing." not in problem
    practice_value_set(actor=cast.bob, key="dosing.pregnancy_test_valid_days", value=7, reason="weekly tests")
    assert not selectors.dose_readiness(record=record, at=timezone.now()).pregnancy_refusal


def test_a_test_dated_in_the_future_or_undated_is_refused(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    with pytest.raises(services.DosingError, match="Give the day"):
        check_in(cast, record, pregnancy_test="negative")
    with pytest.raises(services.DosingError, match="in the future"):
        check_in(
            cast, record, pregnancy_test="negative", pregnancy_test_on=timezone.localdate() + datetime.timedelta(1)
        )


def test_an_order_waits_for_the_pregnancy_check(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    with pytest.raises(services.DosingError, match="Pregnancy: no test recorded"):
        order(cast, record)


# New medicines -------------------------------------------------------------------------------------------------


def test_a_new_medicine_the_screening_reviews_needs_the_prescribers_review_before_the_order(cast, vitals_taken):
    Medication.objects.create(patient=cast.alice, name="Phenelzine", dose="15 mg", frequency="three times daily")
    check_in(cast, vitals_taken, medication_changes="yes", new_medications="zolpidem\nsertraline\nfrobnicol")
    readiness = selectors.dose_readiness(record=vitals_taken, at=timezone.now())
    assert [m.described for m in readiness.medicines_to_review] == [
        "Phenelzine (maoi)",
        "zolpidem (z drug hypnotic)",
        "frobnicol (a name the screening does not recognise)",
    ]
    with pytest.raises(services.DosingError, match="New since screening.*Phenelzine.*Medication review"):
        order(cast, vitals_taken)
    with pytest.raises(services.DosingError, match="Only a prescriber reviews"):
        services.medication_review(actor=cast.nurse, record=vitals_taken, note="ok")
    with pytest.raises(services.DosingError, match="Write what was decided"):
        services.medication_review(actor=cast.bob, record=vitals_taken, note="  ")
    assert services.medication_review(actor=cast.bob, record=vitals_taken, note="Discussed; proceed.") == [
        "Phenelzine",
        "zolpidem",
        "frobnicol",
    ]
    assert order(cast, vitals_taken).within


def test_the_medication_question_is_part_of_the_checklist(cast, session):
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    assert "medication changes since screening not asked" in selectors.checklist_missing(record=record)
    with pytest.raises(services.DosingError, match="Name the medicines"):
        check_in(cast, record, medication_changes="yes", new_medications=" ")


# In the room ------------------------------------------------------------------------------------------------------


def room_post(client, session, cast, action, data):
    url = reverse("dosing:room_action", args=[session.pk, cast.alice.pk, action])
    return client.post(url, {f"p{cast.alice.pk}-{action}-{key}": value for key, value in data.items()})


def test_the_room_card_says_a_same_day_assessment_is_needed(cast, session, vitals_taken, client_for):
    open_alert(cast.alice)
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "Suicide risk: a prescriber's same-day assessment is needed" in page


def test_the_card_names_the_alerts_level_as_a_level_of_risk(cast, session, vitals_taken, client_for):
    open_alert(cast.alice)
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    # The queue shows the same alert as "urgent": a bare "(moderate, …)" read as a second, lower priority.
    assert "(moderate risk, " in page and "(moderate, " not in page


def test_the_order_form_chooses_no_route_and_an_order_without_one_is_refused(cast, session, vitals_taken, client_for):
    client = client_for(cast.bob)
    page = client.get(reverse("dosing:room", args=[session.pk])).content.decode()
    route = page[page.index(f'name="p{cast.alice.pk}-order-route"') :]
    route = route[: route.index("</select>")]
    assert '<option value="" selected>Choose the route</option>' in route
    response = room_post(client, session, cast, "order", {"route": "", "dose_mg": "200"})
    assert response.status_code == 400
    vitals_taken.refresh_from_db()
    assert vitals_taken.dose_mg is None and vitals_taken.route == ""


def test_a_prescriber_records_the_assessment_in_the_room(cast, session, vitals_taken, client_for):
    open_alert(cast.alice)
    data = {"q1": "0", "q2": "0", "q6": "0", "decision": "proceed", "note": "No ideation since the last visit."}
    response = room_post(client_for(cast.bob), session, cast, "risk", data)
    assert response.status_code == 302
    decision = RoomRiskAssessment.objects.get(decision="proceed")
    assert (decision.method, decision.risk_level, decision.recorded_by) == ("cssrs", "none", cast.bob)
    assert not selectors.dose_readiness(record=vitals_taken, at=timezone.now()).risk_refusal


def messages_on(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def test_a_decision_to_proceed_is_confirmed_as_done_and_one_to_defer_as_a_warning(
    cast, session, vitals_taken, client_for
):
    open_alert(cast.alice)
    client = client_for(cast.bob)
    data = {"q1": "0", "q2": "0", "q6": "0", "decision": "proceed", "note": "No ideation since the last visit."}
    said = messages_on(client.get(room_post(client, session, cast, "risk", data).url))
    assert [level for level, text in said if "decision: Proceed with the dose today" in text] == ["success"]
    data = {"clinician_level": "high", "decision": "defer", "note": "Passive ideation this week: deferred."}
    said = messages_on(client.get(room_post(client, session, cast, "risk", data).url))
    assert [level for level, text in said if "decision: Defer the dose" in text] == ["warning"]


def test_reloading_a_room_form_sent_back_with_errors_goes_back_to_the_room(cast, session, vitals_taken, client_for):
    client = client_for(cast.bob)
    assert room_post(client, session, cast, "risk", {}).status_code == 400
    response = client.get(reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "risk"]))
    assert response.status_code == 302
    assert response.url == reverse("dosing:room", args=[session.pk]) + f"#patient-{cast.alice.pk}"
    assert client.get(response.url).status_code == 200
    outsider = client_for(cast.charlie).get(reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "risk"]))
    assert outsider.status_code == 404


def test_a_nurse_records_a_screen_but_cannot_decide_in_the_room(cast, session, vitals_taken, client_for):
    client = client_for(cast.nurse)
    page = client.get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert f'name="p{cast.alice.pk}-risk-q1"' in page and f'name="p{cast.alice.pk}-risk-decision"' not in page
    assert room_post(client, session, cast, "risk", {"q1": "0", "q2": "0", "q6": "0"}).status_code == 302
    data = {"q1": "0", "q2": "0", "q6": "0", "decision": "proceed", "note": "fine"}
    response = room_post(client, session, cast, "risk", data)
    assert response.status_code == 400 and "Only a prescriber decides" in response.content.decode()
    assert not RoomRiskAssessment.objects.filter(decision="proceed").exists()


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "Answer the screener questions or give a clinician"),
        ({"q1": "0", "clinician_level": "low"}, "not both"),
        ({"clinician_level": "high", "decision": "defer"}, "Write a note with the decision"),
        ({"q1": "1", "q2": "1", "q6": "0"}, "still unanswered: 3, 4, 5"),
    ],
)
def test_bad_assessments_are_explained_and_nothing_is_saved(cast, session, vitals_taken, client_for, data, message):
    before = RoomRiskAssessment.objects.count()
    response = room_post(client_for(cast.bob), session, cast, "risk", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert RoomRiskAssessment.objects.count() == before


def test_a_clinician_outside_the_team_cannot_record_an_assessment(cast, session, vitals_taken, client_for):
    response = room_post(client_for(cast.charlie), session, cast, "risk", {"clinician_level": "none"})
    assert response.status_code == 404
