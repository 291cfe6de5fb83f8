"""Clinical-safety scenarios run end to end through the room's services, as an outside inspector would: who may rate
and discharge, how recent the ratings discharge reads must be, a second dose within the first one's observation
across midnight, and a dose the lot's form cannot give."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import selectors, services
from kapstone.dosing.models import DoseRecord, LedgerEntry
from kapstone.measures import services as measures
from kapstone.measures.models import CriticalAlert
from kapstone.practice.services import SettingRefused, practice_setting_change
from kapstone.practice.settings_store import practice_value_set
from kapstone.program import services as program
from kapstone.program.models import Enrolment, Group, GroupSession
from tests.dosing.helpers import receive_stock, signed, vitals_at


@pytest.fixture
def dosed_two_hours_ago(cast, ready_record, stock):
    given = timezone.now() - datetime.timedelta(minutes=130)
    services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    return ready_record, given


def discharge(actor, record):
    return services.discharge(actor=actor, record=record, vitals_ok=True, alert_oriented=True, escort_present=True)


# Discharge: who decides ---------------------------------------------------------------------------------------


def test_only_a_clinician_discharges_a_dosed_patient_and_rates_their_recovery(cast, dosed_two_hours_ago, client_for):
    """[spravato-rems]: discharge only when clinically stable, a clinical judgement; the MOAA/S is an observer's rating
    ([chernik-1990]) and the CADSS clinician-administered ([bremner-1998]). The practice admin does neither, and the
    room does not offer them the forms."""
    record, given = dosed_two_hours_ago
    with pytest.raises(services.DosingError, match="Only a clinician rates sedation"):
        services.ratings_record(actor=cast.admin, record=record, sedation_moaas=5, dissociation_cadss=0)
    services.ratings_record(actor=cast.therapist, record=record, sedation_moaas=5, dissociation_cadss=0)
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    vitals_at(cast, record, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match="Only a clinician decides that a patient may leave"):
        discharge(cast.admin, record)
    record.refresh_from_db()
    assert record.discharged_at is None
    room = reverse("dosing:room", args=[record.session_id])
    page = client_for(cast.admin).get(room).content.decode()
    assert f'name="p{cast.alice.pk}-discharge-vitals_ok"' not in page
    assert f'name="p{cast.alice.pk}-ratings-sedation_moaas"' not in page
    posted = client_for(cast.admin).post(
        reverse("dosing:room_action", args=[record.session_id, cast.alice.pk, "discharge"]),
        {f"p{cast.alice.pk}-discharge-{name}": "on" for name in ("vitals_ok", "alert_oriented", "escort_present")},
    )
    assert posted.status_code == 400
    record.refresh_from_db()
    assert record.discharged_at is None
    assert discharge(cast.nurse, record).discharged_by == cast.nurse


# Discharge: a positive same-day suicide screen, dosed or not ------------------------------------------------------

HIGH_RISK_SCREEN = {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0}  # intent to act: high on the screener's triage


def screened_high_and_ready_to_leave_undosed(cast, record, capture):
    with capture(execute=True):  # the queue hears of the screen once it is committed
        services.risk_assessment_record(actor=cast.nurse, record=record, answers=HIGH_RISK_SCREEN)
    vitals_at(cast, record, "discharge", timezone.now())


def test_a_patient_screened_at_high_suicide_risk_is_not_sent_home_undosed_without_a_clinicians_assessment(
    cast, checked_in, django_capture_on_commit_callbacks
):
    """The nurse's same-day C-SSRS screen is high ([cssrs-screener] triage: intent); nobody decides and the dose is
    never given. Going home is the room's decision too ([spravato-rems]: discharge only when clinically stable), so the
    screen needs a clinician's assessment first, as a suicide-risk answer since a dose does."""
    record = checked_in
    screened_high_and_ready_to_leave_undosed(cast, record, django_capture_on_commit_callbacks)
    with pytest.raises(
        services.DosingError, match="the same-day suicide screen at .* has neither a prescriber's decision"
    ):
        discharge(cast.nurse, record)
    alert = CriticalAlert.objects.get(kind="room_suicide_screen", patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Seen: passive thoughts only, safety plan reviewed.")
    assert discharge(cast.nurse, record).discharged_at is not None


def test_a_prescribers_decision_after_the_positive_screen_is_the_assessment_discharge_asks_for(
    cast, checked_in, django_capture_on_commit_callbacks
):
    record = checked_in
    screened_high_and_ready_to_leave_undosed(cast, record, django_capture_on_commit_callbacks)
    services.risk_assessment_record(
        actor=cast.bob, record=record, clinician_level="high", decision="defer", note="Deferred; crisis plan agreed."
    )
    assert discharge(cast.nurse, record).discharged_at is not None


# Discharge: recovery rated after the effects peak --------------------------------------------------------------


def test_ratings_from_the_first_minutes_after_the_dose_do_not_show_recovery_for_discharge(cast, dosed_two_hours_ago):
    """Rated alert and not dissociated two minutes after the dose, before the post-dose check at 40 minutes
    ([spravato-rems]; [yale-bp-series] peak), and never again: discharge asks for a rating that can show the return to
    baseline ([aldrete-1995])."""
    record, given = dosed_two_hours_ago
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    DoseRecord.objects.filter(pk=record.pk).update(ratings_at=given + datetime.timedelta(minutes=2))
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    vitals_at(cast, record, "discharge", timezone.now())
    with pytest.raises(services.DosingError, match="were taken before the post-dose check 40 minutes after the dose"):
        discharge(cast.nurse, record)
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=0)
    assert discharge(cast.nurse, record).discharged_at is not None


# A second dose within the first's observation, across midnight -------------------------------------------------


@pytest.fixture
def just_after_midnight(settings, practice_at_midday):
    """The practice's time zone where it is now a little after midnight (POSIX-style: Etc/GMT+5 is UTC-5; the zones
    run from 12 hours behind UTC to 14 ahead)."""
    hour = timezone.now().astimezone(datetime.UTC).hour
    hours_ahead_of_utc = -hour if hour <= 12 else 24 - hour
    settings.TIME_ZONE = f"Etc/GMT{-hours_ahead_of_utc:+d}"


def dosed_late_yesterday_in_another_group(cast, minutes_ago: int) -> DoseRecord:
    other = Group.objects.create(
        name="Late group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=timezone.localdate(),
    )
    Enrolment.objects.create(group=other, patient=cast.alice, status=Enrolment.Status.ENROLLED)
    given = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    assert timezone.localdate(given) < timezone.localdate()  # yesterday, by the practice's calendar
    late = GroupSession.objects.create(
        group=other,
        kind=GroupSession.Kind.DOSING,
        number=1,
        starts_at=given,
        ends_at=given + datetime.timedelta(hours=3),
    )
    return DoseRecord.objects.create(
        session=late, patient=cast.alice, administered_at=given, route="sublingual", dose_mg=Decimal("200")
    )


def test_a_dose_within_another_doses_observation_is_refused_though_midnight_fell_between(
    cast, just_after_midnight, ready_record, stock, client_for
):
    """One dose a day reads the practice's calendar day ([spravato-rems] via safety.yaml one_dose_a_day); a dose at
    23:xx in one group's session and another after midnight in another's are on two days, but the second would be
    given within the first's 2 hours of observation ([spravato-rems]: at least 2 hours after each dose)."""
    dosed_late_yesterday_in_another_group(cast, minutes_ago=90)
    with pytest.raises(services.DosingError, match=r"less than 120 minutes before: every dose is followed"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert not LedgerEntry.objects.filter(kind="administration").exists()
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[ready_record.session_id])).content.decode()
    assert "Cannot be dosed now: still under observation after another dose" in page


def test_a_dose_late_yesterday_past_its_observation_leaves_the_calendar_day_rule_to_decide(
    cast, just_after_midnight, ready_record, stock
):
    dosed_late_yesterday_in_another_group(cast, minutes_ago=121)
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


# A dose the lot's form cannot give ---------------------------------------------------------------------------


@pytest.mark.parametrize(("dose", "given"), [("50", False), ("56", True)])
def test_an_intranasal_dose_is_given_in_whole_devices(cast, checked_in, dose, given):
    """[spravato-pi]: 28 mg a device; the doses are 28, 56 or 84 mg. 50 mg passes the 84 mg ceiling but no number of
    devices gives it."""
    record = checked_in
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=122, diastolic=78, heart_rate=70, spo2=98
    )
    services.dose_order(actor=cast.bob, record=record, route="intranasal", dose_mg=Decimal(dose))
    spray = receive_stock(
        actor=cast.nurse,
        drug="esketamine",
        form="nasal_spray",
        strength=Decimal("28"),
        lot_number="NS-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("280"),
    ).lot.balances.get()
    if given:
        services.dose_administer(actor=cast.nurse, record=record, balance=spray, witness=signed(cast.bob))
        spray.refresh_from_db()
        assert spray.balance_mg == Decimal("224")
        return
    with pytest.raises(services.DosingError, match="given whole, so a dose from it is a whole number of devices"):
        services.dose_administer(actor=cast.nurse, record=record, balance=spray, witness=signed(cast.bob))
    spray.refresh_from_db()
    assert spray.balance_mg == Decimal("280")


# Dates: the practice's calendar day on a daylight-saving change ------------------------------------------------


def test_one_dose_a_day_reads_the_practices_day_on_the_autumn_clock_change(cast, session, settings):
    """America/New_York falls back on 1 Nov 2026, a day of 25 hours: doses at 00:30 EDT and 23:30 EST are 23 hours
    apart by the clock and 24 in fact, yet on the same practice day (safety.yaml one_dose_a_day); a dose at 00:30 the
    next morning is on the next day, and that one only the observation rule judges."""
    settings.TIME_ZONE = "America/New_York"
    zone = timezone.get_current_timezone()
    first = datetime.datetime(2026, 11, 1, 0, 30, tzinfo=zone)
    late = datetime.datetime(2026, 11, 1, 23, 30, tzinfo=zone)
    assert late - first == datetime.timedelta(hours=23)  # arithmetic within one zone is the wall clock's
    assert late.astimezone(datetime.UTC) - first.astimezone(datetime.UTC) == datetime.timedelta(hours=24)
    DoseRecord.objects.create(session=session, patient=cast.alice, administered_at=first, route="sublingual")
    other = Group.objects.create(
        name="Evening group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=datetime.date(2026, 11, 1),
    )
    Enrolment.objects.create(group=other, patient=cast.alice, status=Enrolment.Status.ENROLLED)
    evening = GroupSession.objects.create(
        group=other, kind=GroupSession.Kind.DOSING, number=1, starts_at=late, ends_at=late + datetime.timedelta(hours=3)
    )
    record = DoseRecord.objects.create(session=evening, patient=cast.alice)
    same_day = selectors.dose_readiness(record=record, at=late)
    assert same_day.doses_same_day == 1
    assert "has already had a dose today" in same_day.same_day_refusal
    next_morning = selectors.dose_readiness(record=record, at=late + datetime.timedelta(hours=1))
    assert next_morning.doses_same_day == 0


# An earlier session's positive room screen left open ----------------------------------------------------------


def test_an_earlier_sessions_positive_room_screen_still_open_holds_the_next_dose_and_course_until_acknowledged(
    cast, ready_record, stock, earlier_dose, django_capture_on_commit_callbacks
):
    """Last week's room screen was high and the prescriber deferred; the alert is still open. Today's screen says no
    risk, but nobody has recorded a review of last week's: like a questionnaire's suicide-risk alert left open
    ([cssrs-screener] triage, [critical-item-practice]), it holds the dose and a new course (safety.yaml
    review_before_dosing)."""
    week_ago = timezone.now() - datetime.timedelta(days=7)
    earlier = earlier_dose(cast.alice, week_ago)
    DoseRecord.objects.filter(pk=earlier.pk).update(administered_at=None)
    earlier.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.risk_assessment_record(actor=cast.nurse, record=earlier, answers=HIGH_RISK_SCREEN)
    services.risk_assessment_record(
        actor=cast.bob, record=earlier, clinician_level="high", decision="defer", note="Deferred; crisis plan agreed."
    )
    alert = CriticalAlert.objects.get(kind="room_suicide_screen", patient=cast.alice)
    CriticalAlert.objects.filter(pk=alert.pk).update(raised_at=week_ago)
    with pytest.raises(services.DosingError, match="To review before the dose: Same-day suicide-risk"):
        services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    with pytest.raises(program.EnrolmentRefused, match="Same-day suicide-risk .* is open in the alert queue"):
        program.enrol(actor=cast.bob, group=earlier.session.group, patient=cast.alice)
    measures.alert_acknowledge(actor=cast.bob, alert=alert, note="Reviewed with the patient this week: no intent.")
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is not None


# Stop thresholds have the hard bounds of their sources ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "past_the_bound", "reading", "stops"),
    [
        # [clinic-bp-protocols]: stop or treat at a heart rate above 110.
        ("dosing.stop_heart_rate", 140, {"heart_rate": 125}, "Heart rate 125 above 110"),
        # [sedation-respiratory-convention]: below 8 breaths a minute is respiratory depression acted on at once.
        ("dosing.stop_respiratory_rate", 4, {"respiratory_rate": 6}, "Respiratory rate 6/min below 8/min"),
    ],
)
def test_a_stop_threshold_cannot_be_set_past_its_source_and_a_stored_one_is_held_at_it(
    cast, checked_in, key, past_the_bound, reading, stops
):
    with pytest.raises(SettingRefused, match=r"cannot (exceed|be below)"):
        practice_setting_change(actor=cast.bob, key=key, raw_value=str(past_the_bound), reason="our protocol")
    # Written by hand, or before the bound existed: the room still stops at the cited level.
    practice_value_set(actor=cast.admin, key=key, value=past_the_bound, reason="set by hand")
    vitals = {"systolic": 122, "diastolic": 78, "heart_rate": 70, "spo2": 98, "respiratory_rate": 14} | reading
    taken = services.vitals_record(actor=cast.nurse, record=checked_in, phase="pre", **vitals)
    assert taken.alert_level == "stop"
    assert stops in "; ".join(taken.alert_messages)
