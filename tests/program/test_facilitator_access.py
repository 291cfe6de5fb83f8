"""Facilitators of a group may open its enrolled patients' records for the course: granted and removed with the
assignment or the enrolment, audited, never touching a care-team membership made by hand."""

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


def forming_group(cast, fran) -> Group:
    return services.group_create(
        actor=cast.admin,
        name="Autumn group",
        template_id="group-kap-programme",
        start_date="2030-01-07",
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
