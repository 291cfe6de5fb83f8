"""Readiness ahead of the day: each patient of a dosing session ready or blocked with every reason known before
the day (`kapstone session readiness`), and the evening digest its facilitators receive once."""

import datetime
import io
import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from kapstone.alerts.models import StaffContact
from kapstone.audit.models import AuditEvent
from kapstone.dosing import selectors, services
from kapstone.dosing.models import DoseRecord, ReadinessDigest
from kapstone.patients.services import childbearing_record
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import GroupSession
from tests.measures.factories import open_alert


def readiness_of(session) -> dict:
    [entry] = selectors.sessions_readiness_on(day=timezone.localdate(session.starts_at))
    return {item.patient.pk: item for item in entry.patients}


def test_a_patient_through_the_gate_with_a_documented_record_is_ready(cast, session):
    alice = readiness_of(session)[cast.alice.pk]
    assert alice.ready and alice.reasons == []


def test_a_patient_not_through_the_enrolment_gate_is_blocked_with_each_reason(cast, session):
    others = [item for pk, item in readiness_of(session).items() if pk != cast.alice.pk]
    assert len(others) == 2
    for item in others:
        assert not item.ready
        assert any("cannot be dosed" in reason for reason in item.reasons)
        assert any("does not say whether the patient could become pregnant" in reason for reason in item.reasons)


def test_a_suicide_risk_alert_needs_a_same_day_assessment(cast, session):
    open_alert(cast.alice)
    [reason] = readiness_of(session)[cast.alice.pk].reasons
    assert reason.startswith("Suicide risk to assess today: questionnaire alert: PHQ-9")


def test_doses_in_the_week_before_the_session_block_at_the_practice_limit(cast, session, earlier_dose):
    earlier_dose(cast.alice, session.starts_at - datetime.timedelta(days=2))
    earlier_dose(cast.alice, session.starts_at - datetime.timedelta(days=4))
    [reason] = readiness_of(session)[cast.alice.pk].reasons
    assert "already had 2 doses in the 7 days before" in reason


def test_a_last_route_without_a_ceiling_blocks_and_names_the_setting(cast, session, earlier_dose):
    earlier = earlier_dose(cast.alice, session.starts_at - datetime.timedelta(days=20))
    DoseRecord.objects.filter(pk=earlier.pk).update(route="im", ordered_at=earlier.administered_at)
    [reason] = readiness_of(session)[cast.alice.pk].reasons
    assert "no ceiling for that route" in reason and "“IM dose ceiling”" in reason
    assert "a prescriber changes it" in reason and "dosing." not in reason


def test_a_recorded_childbearing_potential_leaves_the_test_to_the_day(cast, session):
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="yes")
    assert readiness_of(session)[cast.alice.pk].ready


# The command ----------------------------------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("session", "readiness", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_each_patient_ready_or_blocked_with_the_day_s_checks(cast, session):
    output = run("--date", timezone.localdate(session.starts_at).isoformat())
    assert "Tuesday group: dosing session 1, Willow room (3 patients, 1 ready, 2 blocked)" in output
    assert f"ready    {cast.alice.record_number} {cast.alice.full_name}" in output
    assert output.count("  blocked  ") == 2
    assert "Checked on the day, in the room:" in output and "pre-dose vitals" in output
    read = AuditEvent.objects.filter(object_type="dosing_readiness").get()
    assert read.actor_label == "system:session readiness"


def test_the_command_prints_json(cast, session):
    document = json.loads(run("--date", timezone.localdate(session.starts_at).isoformat(), "--json"))
    [entry] = document["sessions"]
    assert (entry["ready"], entry["blocked"]) == (1, 2)
    statuses = {p["patient_id"]: (p["status"], p["reasons"]) for p in entry["patients"]}
    assert statuses[cast.alice.pk] == ("ready", [])
    assert document["checked_on_the_day"]


def test_a_day_without_sessions_says_so(cast, session):
    assert run("--date", "2001-01-01").strip() == "No dosing session on 2001-01-01."


@pytest.mark.parametrize("text", ["2025-13-01", "tomorrow", "10/06/2025"])
def test_a_bad_date_exits_2_with_a_message(db, text):
    with pytest.raises(CommandError, match="--date must be a day written YYYY-MM-DD") as refused:
        run("--date", text)
    assert refused.value.returncode == 2


# The evening digest ---------------------------------------------------------------------------------------------


@pytest.fixture
def tomorrow_session(cast, session):
    """The session moved to 09:00 tomorrow; bob (with a paging number) and the therapist facilitate."""
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    starts = timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time(9)))
    GroupSession.objects.filter(pk=session.pk).update(starts_at=starts, ends_at=starts + datetime.timedelta(hours=3))
    StaffContact.objects.create(user=cast.bob, mobile="+15555550100")
    for person in (cast.bob, cast.therapist):
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    session.refresh_from_db()
    return session


def evening(hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(hour, minute)))


def test_nothing_goes_out_before_the_practice_s_hour(tomorrow_session):
    assert services.readiness_digests_send_due(now=evening(17, 59)) == 0
    assert not ReadinessDigest.objects.exists() and not mail.outbox


def test_each_facilitator_receives_the_digest_once_on_each_channel(cast, tomorrow_session, capsys):
    assert services.readiness_digests_send_due(now=evening(18, 5)) == 3  # bob by email and SMS, the therapist
    assert services.readiness_digests_send_due(now=evening(18, 15)) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"{p.username}@example.org" for p in (cast.bob, cast.therapist)
    )
    assert {m.subject for m in mail.outbox} == {"Kapstone: readiness for tomorrow's dosing session"}
    body = mail.outbox[0].body
    assert "3 patients, 1 ready, 2 blocked" in body and f"/dosing/session/{tomorrow_session.pk}/" in body
    # No patient's name or record number, nor the group's name: counts and a link behind sign-in.
    for patient_text in (cast.alice.full_name, cast.alice.record_number, "Member0", "Tuesday group"):
        assert patient_text not in body
    assert capsys.readouterr().out.count("[SMS to +15555550100]") == 1
    digests = ReadinessDigest.objects.all()
    assert {(d.status, d.ready_count, d.blocked_count) for d in digests} == {("sent", 1, 2)}


def test_a_digest_another_worker_has_claimed_is_not_sent_again(cast, tomorrow_session):
    now = evening(18, 5)
    services._digest_rows(tomorrow_session, now=now)
    ReadinessDigest.objects.update(status=ReadinessDigest.Status.SENDING, claimed_at=now)
    assert services.readiness_digests_send_due(now=now + datetime.timedelta(minutes=1)) == 0
    assert not mail.outbox
    # A send cut off mid-way is taken back after the lease and goes out once.
    later = now + services.DIGEST_SEND_LEASE + datetime.timedelta(minutes=1)
    assert services.readiness_digests_send_due(now=later) == 3


def test_the_hour_is_a_practice_setting(cast, tomorrow_session):
    practice_value_set(actor=cast.admin, key="dosing.readiness_digest_hour", value=20, reason="evening clinic")
    assert services.readiness_digests_send_due(now=evening(19)) == 0
    assert services.readiness_digests_send_due(now=evening(20)) == 3


def test_a_failing_channel_is_retried_then_marked_failed(cast, tomorrow_session, monkeypatch):
    def refuse(**kwargs):
        raise services.DeliveryFailed("provider down")

    monkeypatch.setattr(services, "deliver", refuse)
    for minute in range(services.DIGEST_ATTEMPTS + 1):
        assert services.readiness_digests_send_due(now=evening(18, minute * 10)) == 0
    assert {(d.status, d.attempts) for d in ReadinessDigest.objects.all()} == {("failed", services.DIGEST_ATTEMPTS)}


def test_a_digest_sent_on_the_session_s_own_morning_says_today(cast, tomorrow_session):
    # The sweep was down all evening: the digest goes out at 07:00 on the day and must not say "tomorrow's".
    on_the_morning = tomorrow_session.starts_at - datetime.timedelta(hours=2)
    assert services.readiness_digests_send_due(now=on_the_morning) == 3
    assert {m.subject for m in mail.outbox} == {"Kapstone: readiness for today's dosing session"}


def test_no_digest_once_the_session_has_started(cast, tomorrow_session):
    assert services.readiness_digests_send_due(now=tomorrow_session.starts_at + datetime.timedelta(minutes=1)) == 0


def test_the_sweep_task_is_on_the_beat_schedule(settings):
    from kapstone.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "kapstone.dosing.tasks.send_readiness_digests" in names
    assert "kapstone.dosing.tasks.send_readiness_digests" in app.tasks
