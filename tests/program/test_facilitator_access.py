"""Facilitators of a group may open its enrolled patients' records for the course: granted and removed with the
assignment or the enrolment, audited, never touching a care-team membership made by hand."""

import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.audit.models import AuditEvent
from kapstone.dosing import selectors as dosing_selectors
from kapstone.patients import services as patients_services
from kapstone.patients.models import CareTeamMembership
from kapstone.patients.selectors import patients_visible_to
from kapstone.program import services
from kapstone.program.models import Enrolment, Group
from tests.conftest import make_patient, make_user, signed_in_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def gate_open(monkeypatch):
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])


@pytest.fixture
def fran():
    """A therapist on nobody's care team."""
    return make_user("fran", Role.THERAPIST)


def grants(staff) -> dict[int, int]:
    return dict(
        CareTeamMembership.objects.filter(staff=staff, granted_for_group_id__isnull=False).values_list(
            "patient_id", "granted_for_group_id"
        )
    )


def forming_group(cast, fran, *, start_date=None) -> Group:
    """A group not yet planned, starting in three days (inside the facilitators' lead time) unless told."""
    return services.group_create(
        actor=cast.admin,
        name="Autumn group",
        template_id="group-kap-programme",
        start_date=start_date or (datetime.date.today() + datetime.timedelta(days=3)).isoformat(),
        facilitators=[cast.bob, fran],
    )


def test_enrolling_a_patient_grants_the_groups_facilitators_their_record_and_audits_it(cast, fran, gate_open):
    group = forming_group(cast, fran)
    assert cast.alice not in patients_visible_to(fran)
    services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert grants(fran) == {cast.alice.pk: group.pk}
    assert cast.alice in patients_visible_to(fran)
    # bob is on alice's care team by hand: nothing is granted or changed for him.
    assert CareTeamMembership.objects.get(patient=cast.alice, staff=cast.bob).granted_for_group_id is None
    event = AuditEvent.objects.filter(object_type="care_team_grant", patient_id=cast.alice.pk).get()
    assert event.detail_data["granted"] == [fran.pk]


def test_withdrawing_removes_the_grant_but_never_a_membership_made_by_hand(cast, fran, gate_open):
    group = forming_group(cast, fran)
    enrolment = services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    services.withdraw(actor=cast.bob, enrolment=enrolment, reason="moved away")
    assert grants(fran) == {}
    assert cast.alice not in patients_visible_to(fran)
    assert CareTeamMembership.objects.filter(patient=cast.alice, staff=cast.bob, granted_for_group_id=None).exists()
    removed = AuditEvent.objects.filter(object_type="care_team_grant", patient_id=cast.alice.pk).order_by("pk").last()
    assert removed.detail_data["removed"] == [fran.pk]


def test_moving_a_session_to_another_facilitator_grants_them_and_taking_them_off_removes_it(cast, fran):
    session = cast.dosing_session()
    enrolled = list(session.group.enrolments.values_list("patient_id", flat=True))
    services.session_move(
        actor=cast.bob, session=session, starts_at=session.starts_at, room=session.room, facilitators=[cast.bob, fran]
    )
    assert set(grants(fran)) == set(enrolled)
    assert {p.pk for p in patients_visible_to(fran)} == set(enrolled)
    services.session_move(
        actor=cast.bob,
        session=session,
        starts_at=session.starts_at,
        room=session.room,
        facilitators=[cast.bob, cast.therapist],
    )
    assert grants(fran) == {}


def test_the_dosing_room_shows_a_facilitator_the_patients_they_were_granted(cast, fran):
    session = cast.dosing_session()
    session.facilitators.add(fran)
    assert dosing_selectors.session_room(user=fran, session_id=session.pk)[1] == []
    services.facilitator_access_sync(
        actor=cast.bob, patient_ids=session.group.enrolments.values_list("patient_id", flat=True)
    )
    _, room = dosing_selectors.session_room(user=fran, session_id=session.pk)
    assert cast.alice.pk in {entry.patient.pk for entry in room}


def test_a_grant_moves_to_another_group_the_staff_still_facilitates_and_goes_with_the_last(cast, fran):
    first = patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={fran.pk: {7, 9}})
    assert first["granted"] == [fran.pk] and grants(fran) == {cast.alice.pk: 7}
    patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={fran.pk: {9}})
    assert grants(fran) == {cast.alice.pk: 9}
    patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={})
    assert grants(fran) == {}
    assert CareTeamMembership.objects.filter(patient=cast.alice, granted_for_group_id=None).count() == 3


def test_an_unchanged_sync_writes_nothing_to_the_audit_trail(cast, fran):
    patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={fran.pk: {7}})
    before = AuditEvent.objects.count()
    patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={fran.pk: {7}})
    assert AuditEvent.objects.count() == before


def test_editing_the_care_team_by_hand_leaves_the_granted_memberships_alone(cast, fran):
    patients_services.care_team_grants_sync(actor=cast.bob, patient=cast.alice, wanted={fran.pk: {7}})
    patients_services.care_team_set(actor=cast.admin, patient=cast.alice, staff=[cast.bob], lead=cast.bob)
    assert grants(fran) == {cast.alice.pk: 7}
    assert set(CareTeamMembership.objects.filter(patient=cast.alice).values_list("staff_id", flat=True)) == {
        cast.bob.pk,
        fran.pk,
    }


def test_the_roster_page_lists_the_facilitators_and_what_they_can_open(cast, fran):
    session = cast.dosing_session()
    session.facilitators.add(fran)
    page = signed_in_client(cast.bob).get(reverse("program:group", kwargs={"group_id": session.group_id})).text
    assert "Facilitators and their access" in page
    assert "Fran" in page and "0 of 3" in page and "missing access" in page
    services.facilitator_access_sync(
        actor=cast.bob, patient_ids=session.group.enrolments.values_list("patient_id", flat=True)
    )
    page = signed_in_client(cast.bob).get(reverse("program:group", kwargs={"group_id": session.group_id})).text
    assert "3 of 3" in page and "3 granted for the course" in page


def test_the_data_migration_grants_the_facilitators_of_current_groups_only(cast, fran):
    session = cast.dosing_session()
    session.facilitators.add(fran)
    ended = Group.objects.create(
        name="Old group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date="2020-01-06",
        status=Group.Status.COMPLETED,
    )
    ended.facilitators.add(fran)
    Enrolment.objects.create(group=ended, patient=make_patient("Past", "Patient"), status=Enrolment.Status.ENROLLED)
    migration = importlib.import_module("kapstone.program.migrations.0004_grant_facilitators_of_current_groups")
    migration.grant_facilitators(django_apps, None)
    assert set(grants(fran)) == set(session.group.enrolments.values_list("patient_id", flat=True))
    assert set(grants(fran).values()) == {session.group_id}
    assert not CareTeamMembership.objects.filter(staff=cast.therapist, granted_for_group_id__isnull=False).exists()


# --- how long a grant opens the record (docs/architecture.md, "Who sees a patient") -------------------------------


def _facilitated_by_fran_at(cast, fran, starts_at):
    """alice's group's dosing session, facilitated by bob and fran and held at `starts_at`, the grants synced."""
    session = cast.dosing_session()
    session.facilitators.set([cast.bob, fran])
    type(session).objects.filter(pk=session.pk).update(
        starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=3)
    )
    services.facilitator_access_sync(
        actor=cast.bob, patient_ids=session.group.enrolments.values_list("patient_id", flat=True)
    )
    return session


def _outer_bound(session) -> datetime.timedelta:
    from kapstone.program.planning import group_template

    return datetime.timedelta(hours=group_template(session.group).integration.outer_bound_hours)


def test_a_facilitator_opens_the_record_from_the_lead_time_before_their_session_until_its_integration_window_ends(
    cast, fran
):
    from django.utils import timezone

    now = timezone.now()
    session = _facilitated_by_fran_at(cast, fran, now - datetime.timedelta(hours=1))
    client = signed_in_client(fran)
    assert cast.alice in patients_visible_to(fran)
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
    row = CareTeamMembership.objects.get(patient=cast.alice, staff=fran)
    assert row.granted_from == now - datetime.timedelta(hours=1) - services.FACILITATION_LEAD
    assert row.granted_until == now + datetime.timedelta(hours=2) + _outer_bound(session)
    # Just inside the lead time before the session, and just before its integration window closes: open.
    _facilitated_by_fran_at(cast, fran, now + services.FACILITATION_LEAD - datetime.timedelta(hours=1))
    assert cast.alice in patients_visible_to(fran)
    closes = _outer_bound(session) + datetime.timedelta(hours=3)
    _facilitated_by_fran_at(cast, fran, now - closes + datetime.timedelta(minutes=10))
    assert cast.alice in patients_visible_to(fran)


def test_a_facilitator_s_grant_opens_nothing_long_before_or_after_the_sessions_they_facilitate(cast, fran):
    from django.utils import timezone

    now = timezone.now()
    session = _facilitated_by_fran_at(cast, fran, now + services.FACILITATION_LEAD + datetime.timedelta(hours=1))
    client = signed_in_client(fran)
    assert CareTeamMembership.objects.filter(patient=cast.alice, staff=fran).exists()
    assert cast.alice not in patients_visible_to(fran)
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 404
    # The course went on while the enrolment stays open: a month after the session, the record is closed to her.
    _facilitated_by_fran_at(cast, fran, now - datetime.timedelta(days=30))
    assert session.group.enrolments.filter(patient=cast.alice, status=Enrolment.Status.ENROLLED).exists()
    assert cast.alice not in patients_visible_to(fran)
    for name in ("patients:detail", "integration:timeline", "measures:patient"):
        assert client.get(reverse(name, args=[cast.alice.pk])).status_code == 404, name
    assert dosing_selectors.session_room(user=fran, session_id=session.pk)[1] == []
    # bob, on alice's care team by hand, keeps her record whatever the dates.
    assert cast.alice in patients_visible_to(cast.bob)


def test_a_group_s_own_facilitator_is_granted_from_the_lead_time_before_its_start(cast, fran, gate_open):
    group = forming_group(cast, fran, start_date=(datetime.date.today() + datetime.timedelta(days=60)).isoformat())
    services.enrol(actor=cast.bob, group=group, patient=cast.alice)
    assert grants(fran) == {cast.alice.pk: group.pk}
    assert cast.alice not in patients_visible_to(fran)


def test_choosing_a_granted_facilitator_for_the_care_team_by_hand_keeps_the_record_open_after_the_course(cast, fran):
    from django.utils import timezone

    _facilitated_by_fran_at(cast, fran, timezone.now() - datetime.timedelta(days=30))
    assert cast.alice not in patients_visible_to(fran)
    patients_services.care_team_set(actor=cast.admin, patient=cast.alice, staff=[cast.bob, fran], lead=cast.bob)
    assert cast.alice.pk not in grants(fran)
    assert cast.alice in patients_visible_to(fran)


def test_the_data_migration_gives_each_existing_grant_the_window_of_the_sessions_facilitated(cast, fran):
    """Grants made before windows existed (0004) open nothing without one: 0009 gives each the window its sessions
    give, so a facilitator of a session today keeps the record, and one whose session is long past loses it."""
    from django.utils import timezone

    session = cast.dosing_session()
    session.facilitators.add(fran)
    importlib.import_module("kapstone.program.migrations.0004_grant_facilitators_of_current_groups").grant_facilitators(
        django_apps, None
    )
    assert cast.alice not in patients_visible_to(fran)
    importlib.import_module("kapstone.program.migrations.0009_facilitation_grant_windows").give_windows(
        django_apps, None
    )
    row = CareTeamMembership.objects.get(patient=cast.alice, staff=fran)
    assert row.granted_from == session.starts_at - services.FACILITATION_LEAD
    assert cast.alice in patients_visible_to(fran)
    CareTeamMembership.objects.filter(staff=fran).update(granted_from=None, granted_until=None)
    type(session).objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - datetime.timedelta(days=40), ends_at=timezone.now() - datetime.timedelta(days=40)
    )
    importlib.import_module("kapstone.program.migrations.0009_facilitation_grant_windows").give_windows(
        django_apps, None
    )
    assert cast.alice not in patients_visible_to(fran)
