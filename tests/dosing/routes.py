from tests.conftest import Cast
from tests.matrix import Route

ROOM_STAFF = {"admin", "bob", "therapist", "nurse"}


def loss_report(cast: Cast):
    """A loss report of a written-off count, for the matrix to open."""
    from tests.dosing.helpers import a_loss_report

    return a_loss_report(cast)


def session_kwargs(cast: Cast) -> dict:
    return {"session_id": cast.dosing_session().pk}


ROUTES = {
    "dosing:sessions": Route(allow={"admin", "bob", "therapist", "nurse", "charlie"}),
    "dosing:room": Route(allow=ROOM_STAFF, not_found={"charlie"}, kwargs=session_kwargs),
    "dosing:room_action": Route(
        allow=ROOM_STAFF,
        not_found={"charlie"},
        method="post",
        kwargs=lambda cast: {**session_kwargs(cast), "patient_id": cast.alice.pk, "action": "note"},
    ),
    "dosing:ledger": Route(allow={"admin", "bob", "nurse", "charlie"}),
    "dosing:ledger_action": Route(
        allow={"admin", "bob", "nurse", "charlie"}, method="post", kwargs=lambda cast: {"kind": "count"}
    ),
    "dosing:ledger_export": Route(allow={"admin", "bob", "nurse", "charlie"}, kwargs=lambda cast: {"fmt": "csv"}),
    "dosing:registrations": Route(allow={"admin", "bob", "nurse", "charlie"}),
    "dosing:registration_action": Route(allow={"admin"}, method="post", kwargs=lambda cast: {"kind": "location"}),
    "dosing:loss_report": Route(
        allow={"admin", "bob", "nurse", "charlie"},
        not_found=set(),
        kwargs=lambda cast: {"report_id": loss_report(cast).pk},
    ),
}
