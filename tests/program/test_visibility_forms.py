"""Who may see a group or a dosing session is one test per row (EXISTS on indexes, issue 19), for one row and for
the group list alike; it must let in exactly the people the rule written out here lets in, for every kind of user."""

import datetime

import pytest
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.dosing.selectors import dosing_session_visible_to
from kapstone.patients.models import CareTeamMembership
from kapstone.program.models import Enrolment, Group, GroupSession
from kapstone.program.selectors import group_list, group_visible_to
from tests.conftest import make_patient, make_user

pytestmark = pytest.mark.django_db


def _group(name: str, *, facilitators=(), patients=(), status=Enrolment.Status.ENROLLED) -> Group:
    group = Group.objects.create(
        name=name, template_id="t", template_version=1, min_size=3, max_size=4, start_date=datetime.date.today()
    )
    group.facilitators.set(facilitators)
    for patient in patients:
        Enrolment.objects.create(group=group, patient=patient, status=status)
    return group


def _session(group: Group, kind: str, *, facilitators=()) -> GroupSession:
    now = timezone.now()
    session = GroupSession.objects.create(
        group=group, kind=kind, number=1, starts_at=now, ends_at=now + datetime.timedelta(hours=2)
    )
    session.facilitators.set(facilitators)
    return session


def _visible_by_the_rule(person, rows, *, group_of) -> set[int]:
    """Admins see every row (a group or a dosing session); a clinician those they facilitate and those whose group
    holds a patient of their care team (enrolled in any status); nobody else any."""
    if person.role == Role.ADMIN:
        return {row.pk for row in rows}
    if not person.is_clinician:
        return set()
    my_patients = set(CareTeamMembership.objects.filter(staff=person).values_list("patient_id", flat=True))
    return {
        row.pk
        for row in rows
        if person in row.facilitators.all()
        or my_patients & set(group_of(row).enrolments.values_list("patient_id", flat=True))
    }


def test_the_row_test_and_the_group_list_let_in_exactly_whom_the_rule_lets_in(cast):
    group_only = make_user("gina", Role.THERAPIST)  # facilitates a group, no session, no patient of its
    session_only = make_user("sam", Role.NURSE)  # facilitates one session only
    outsider = make_user("olga", Role.PRESCRIBER)
    ward = make_patient("Ward", "Patient", team=[cast.nurse])
    waitlisted = make_patient("Wait", "Listed", team=[outsider])
    groups = [
        _group("facilitated", facilitators=[group_only]),
        _group("holding alice", patients=[cast.alice]),
        _group("holding dana", patients=[cast.dana], facilitators=[cast.bob]),
        _group("holding the ward", patients=[ward]),
        _group("waitlist", patients=[waitlisted], status=Enrolment.Status.WAITLISTED),
        _group("empty"),
    ]
    sessions = [
        _session(group, kind, facilitators=[session_only] if group.name == "empty" else [])
        for group in groups
        for kind in (GroupSession.Kind.DOSING, GroupSession.Kind.INTEGRATION)
    ]
    dosing = [session for session in sessions if session.kind == GroupSession.Kind.DOSING]
    # A care-team membership ending removes the sight it gave.
    CareTeamMembership.objects.filter(patient=ward, staff=cast.nurse).delete()
    people = [
        cast.admin, cast.bob, cast.therapist, cast.nurse, cast.charlie, cast.researcher, cast.alice_user,
        group_only, session_only, outsider,
    ]  # fmt: skip
    for person in people:
        by_the_rule = _visible_by_the_rule(person, groups, group_of=lambda group: group)
        one_by_one = {group.pk for group in groups if Group.objects.filter(group_visible_to(person), pk=group.pk)}
        assert one_by_one == by_the_rule, person.username
        listed = {row.group.pk for row in group_list(user=person).rows}
        assert listed & {group.pk for group in groups} == by_the_rule, person.username
        one_by_one = {
            session.pk
            for session in sessions
            if GroupSession.objects.filter(dosing_session_visible_to(person), pk=session.pk).exists()
        }
        by_the_rule = _visible_by_the_rule(person, dosing, group_of=lambda session: session.group)
        assert one_by_one == by_the_rule, person.username
    # The cases are not all alike: someone sees some and not others.
    assert {s.pk for s in sessions if GroupSession.objects.filter(dosing_session_visible_to(session_only), pk=s.pk)}
    assert not GroupSession.objects.filter(dosing_session_visible_to(cast.researcher)).exists()
    assert not GroupSession.objects.filter(dosing_session_visible_to(cast.alice_user)).exists()
