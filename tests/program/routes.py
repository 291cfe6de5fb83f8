import datetime

from tests.conftest import Cast
from tests.matrix import ALICE_RECORD, PATIENTS, RECORD_STAFF, Route

# Charlie neither facilitates the Tuesday group nor looks after any of its patients: it does not exist for him.
GROUP_STAFF = dict(allow={"admin", "bob", "therapist", "nurse"}, not_found={"charlie"})


def group_kwargs(cast: Cast) -> dict:
    return {"group_id": cast.dosing_session().group_id}


def alice_enrolment(cast: Cast) -> dict:
    group = cast.dosing_session().group
    return {"enrolment_id": group.enrolments.get(patient=cast.alice).pk}


def bobs_away_dates(cast: Cast) -> dict:
    from kapstone.program.models import Unavailability

    day = datetime.date.today() + datetime.timedelta(days=30)
    return {"away_id": Unavailability.objects.create(staff=cast.bob, first_day=day, last_day=day).pk}


def alices_feed_token(cast: Cast) -> dict:
    from kapstone.program import services

    return {"token": services.feed_token_issue(user=cast.alice_user)}


ROUTES = {
    "program:groups": Route(allow=RECORD_STAFF),
    "program:group_create": Route(allow=RECORD_STAFF),
    "program:group": Route(**GROUP_STAFF, kwargs=group_kwargs),
    "program:enrol": Route(**GROUP_STAFF, kwargs=group_kwargs, method="post"),
    "program:waitlist": Route(**GROUP_STAFF, kwargs=group_kwargs, method="post"),
    "program:plan": Route(**GROUP_STAFF, kwargs=group_kwargs, method="post"),
    "program:plan_confirm": Route(**GROUP_STAFF, kwargs=group_kwargs, method="post"),
    "program:withdraw": Route(**GROUP_STAFF, kwargs=alice_enrolment, method="post"),
    "program:session_site": Route(
        **GROUP_STAFF, kwargs=lambda cast: {"session_id": cast.dosing_session().pk}, method="post"
    ),
    # Whoever may adjust a session may hold it by video; the probe's empty form is refused with a 400.
    "program:session_telehealth": Route(
        **GROUP_STAFF, kwargs=lambda cast: {"session_id": cast.dosing_session().pk}, method="post"
    ),
    "program:session_edit": Route(**GROUP_STAFF, kwargs=lambda cast: {"session_id": cast.dosing_session().pk}),
    "program:patient_away": Route(**ALICE_RECORD),
    "program:staff_away": Route(allow=RECORD_STAFF),
    # Staff remove their own away dates; an admin anyone's. Nobody else learns they exist.
    "program:away_delete": Route(
        allow={"admin", "bob"}, not_found={"therapist", "nurse", "charlie"}, kwargs=bobs_away_dates, method="post"
    ),
    "program:calendar": Route(allow=RECORD_STAFF | PATIENTS),
    "program:my_calendar": Route(allow=RECORD_STAFF | PATIENTS),
    # A calendar app fetches this without signing in: the secret token in the URL is the credential (a wrong
    # token is a 404, see test_views_calendar).
    "program:feed": Route(allow=set(), public=True, kwargs=alices_feed_token),
}
