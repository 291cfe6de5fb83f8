from tests.conftest import Cast
from tests.matrix import Route

ROOM_STAFF = {"admin", "bob", "therapist", "nurse"}


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
}
