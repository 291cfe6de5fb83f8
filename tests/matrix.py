"""The vocabulary of the permission matrix: each app's tests/<app>/routes.py declares ROUTES with these."""

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.conftest import Cast

SIGNED_IN = ["admin", "bob", "therapist", "nurse", "charlie", "researcher", "alice_user", "dana_user"]
RECORD_STAFF = {"admin", "bob", "therapist", "nurse", "charlie"}
ALL_STAFF = RECORD_STAFF | {"researcher"}
PATIENTS = {"alice_user", "dana_user"}


@dataclass(frozen=True)
class Route:
    allow: set[str]
    not_found: set[str] = field(default_factory=set)
    kwargs: Callable[[Cast], dict] = lambda cast: {}
    public: bool = False
    # What a public view answers anyone whose session is not in the middle of its flow (the passkey sign-in's
    # JSON endpoints refuse outside a sign-in's second step).
    public_answers: tuple[int, ...] = (200, 302)
    # POST-only views are probed with an empty POST: access is decided before the input is read.
    method: str = "get"


def alice(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk}


# Clinicians outside alice's care team (charlie) are told her records do not exist.
ALICE_RECORD = dict(allow={"admin", "bob", "therapist", "nurse"}, not_found={"charlie"}, kwargs=alice)
