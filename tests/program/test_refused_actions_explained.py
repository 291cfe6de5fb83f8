"""A clinician who sees a group for one patient's sake (another clinician's patient is in it too) is refused
planning its course and moving its sessions (program.selectors.group_has_patient_hidden_from). The group page and
the session page tell them so in one line, by the same rule, instead of offering buttons that can only be
refused; staff who see every patient, and an admin, are offered them as before."""

import datetime

from django.urls import reverse

from kapstone.program.models import Enrolment, Group
from kapstone.program.selectors import HIDDEN_PATIENTS_REFUSAL
from kapstone.program.services import SESSION_MOVE_REFUSAL
from tests.conftest import signed_in_client
from tests.test_security_probes_round3 import _mixed_group_session

PLAN_BUTTON = '<button type="submit">Plan the course</button>'
MOVE_BUTTON = '<button type="submit">Save the change</button>'


def _unplanned_group(cast, *patients) -> Group:
    group = Group.objects.create(
        name="Friday group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=2,
        max_size=4,
        start_date=datetime.date.today() + datetime.timedelta(days=14),
    )
    for patient in patients:
        Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.ENROLLED)
    return group


def _page(user, name, *args) -> str:
    answer = signed_in_client(user).get(reverse(name, args=args))
    assert answer.status_code == 200
    return answer.content.decode()


def test_a_clinician_who_cannot_see_every_patient_is_told_why_instead_of_offered_the_plan(cast):
    group = _unplanned_group(cast, cast.alice, cast.dana)  # alice is bob's, dana charlie's
    page = _page(cast.charlie, "program:group", group.pk)
    assert PLAN_BUTTON not in page and 'action="' + reverse("program:plan", args=[group.pk]) not in page
    assert f"You cannot plan this course: {HIDDEN_PATIENTS_REFUSAL}".replace("'", "&#x27;") in page
    assert "Abernathy" not in page


def test_an_admin_and_a_clinician_who_sees_every_patient_are_offered_the_plan(cast):
    mixed = _unplanned_group(cast, cast.alice, cast.dana)
    page = _page(cast.admin, "program:group", mixed.pk)
    assert PLAN_BUTTON in page and "You cannot plan this course" not in page
    own = _unplanned_group(cast, cast.alice)
    page = _page(cast.bob, "program:group", own.pk)
    assert PLAN_BUTTON in page and "You cannot plan this course" not in page


def test_the_session_page_tells_such_a_clinician_why_they_cannot_move_it(cast):
    session = _mixed_group_session(cast)
    page = _page(cast.charlie, "program:session_edit", session.pk)
    assert MOVE_BUTTON not in page
    assert f"You cannot move this session: {SESSION_MOVE_REFUSAL}".replace("'", "&#x27;") in page
    assert "Abernathy" not in page
    # A move posted anyway is still refused, by the service, and says why.
    answer = signed_in_client(cast.charlie).post(reverse("program:session_edit", args=[session.pk]), {"starts_at": "x"})
    assert answer.status_code == 400 and "You cannot move this session" in answer.content.decode()


def test_an_admin_is_offered_the_move(cast):
    session = _mixed_group_session(cast)
    page = _page(cast.admin, "program:session_edit", session.pk)
    assert MOVE_BUTTON in page and "You cannot move this session" not in page
