import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from django.utils import timezone

from kapstone.dosing import safety
from kapstone.dosing.demo import DEMO_DOSES_MG
from kapstone.dosing.models import DoseRecord, LedgerEntry, LotBalance, VitalsReading
from kapstone.program.course_templates import check_session_times, load_templates
from kapstone.program.demo import course_times
from kapstone.program.models import Enrolment, Group, GroupSession
from kapstone.program.scheduling import PlannedSession


@pytest.mark.parametrize("template_id", sorted(load_templates()))
def test_demo_courses_keep_every_rule_of_their_template(template_id):
    template = load_templates()[template_id]
    times = [
        PlannedSession(kind, index, start, end, "", ()).as_session_time()
        for kind, index, start, end in course_times(template, datetime.date(2026, 3, 2), ZoneInfo("America/New_York"))
    ]
    assert check_session_times(template, times, ZoneInfo("America/New_York")) == []


def test_demo_doses_are_under_the_default_sublingual_ceiling():
    for mg in DEMO_DOSES_MG:
        assert safety.check_ceiling(route="sublingual", dose_mg=Decimal(mg), weight_kg=None).within


@pytest.fixture
def practice(db, demo_practice):
    return demo_practice


def test_the_demo_has_a_dosing_session_today_and_a_forming_group_with_a_waitlist(practice):
    today = GroupSession.objects.get(kind="dosing", starts_at__date=timezone.localdate())
    assert today.group.status == Group.Status.ACTIVE
    assert today.group.enrolments.filter(status=Enrolment.Status.ENROLLED).count() == 4
    assert DoseRecord.objects.filter(session=today, checked_in_at__isnull=False).count() == 2
    forming = Group.objects.get(status=Group.Status.FORMING)
    assert forming.enrolments.filter(status=Enrolment.Status.WAITLISTED).count() == 1


def test_every_demo_patient_has_a_course(practice):
    without = [p for p in practice.patients if not p.enrolments.exists()]
    assert without == []
    completed = Enrolment.objects.filter(status=Enrolment.Status.COMPLETED)
    assert completed.count() == 17 - 8
    assert DoseRecord.objects.filter(patient__enrolments__in=completed, administered_at__isnull=False).exists()


def test_the_demo_log_balances_every_lot_and_past_doses_raise_no_alerts(practice):
    for balance in LotBalance.objects.all():
        total = LedgerEntry.objects.filter(lot=balance.lot, location=balance.location).aggregate(s=Sum("change_mg"))
        assert total["s"] == balance.balance_mg
    given = DoseRecord.objects.filter(administered_at__isnull=False)
    assert given.count() == LedgerEntry.objects.filter(kind="administration").count()
    for reading in VitalsReading.objects.all():
        assessment = safety.assess_vitals(
            systolic=reading.systolic,
            diastolic=reading.diastolic,
            heart_rate=reading.heart_rate,
            spo2=reading.spo2,
            pre_dose=reading.phase == "pre",
        )
        assert (assessment.level, reading.alert_level) == ("", "")
    past = given.filter(session__starts_at__lt=timezone.now() - datetime.timedelta(days=1))
    assert all(record.discharged_at - record.administered_at >= datetime.timedelta(minutes=120) for record in past)


def test_the_demo_has_sites_a_video_session_a_billed_visit_and_a_message_thread(practice):
    from kapstone.billing.models import AccountEntry
    from kapstone.billing.selectors import _account_view, visit_superbill
    from kapstone.messaging.models import Thread
    from kapstone.program.demo import SITES

    assert set(GroupSession.objects.values_list("site", flat=True)) <= set(SITES)
    assert GroupSession.objects.filter(site="").count() == 0
    assert GroupSession.objects.filter(dosing_setting=GroupSession.DosingSetting.SUPERVISED_HOME).exists()
    remote = GroupSession.objects.get(is_remote=True)
    assert remote.kind == "integration" and remote.starts_at > timezone.now()

    charge = AccountEntry.objects.filter(kind="charge").first()
    session = GroupSession.objects.get(pk=charge.session_id)
    patient = charge.account.patient
    assert visit_superbill(_account_view(patient), session).missing == []
    assert charge.account.balance == Decimal("0.00")

    thread = Thread.objects.get()
    assert thread.patient == practice.portal_patients[0]
    assert [m.from_patient for m in thread.messages.order_by("created_at", "pk")] == [False, True, False]
