from tests.conftest import Cast
from tests.matrix import ALICE_RECORD, Route, alice
from tests.measures.factories import open_alert

CLINICIANS = {"bob", "therapist", "nurse", "charlie"}
CLINICIANS_OF_ALICE = {"bob", "therapist", "nurse"}


def a_slot(cast: Cast) -> dict:
    from kapstone.alerts.models import OnCallSlot

    slot = OnCallSlot.objects.create(prescriber=cast.bob, weekday=0, starts="09:00", ends="17:00", created_by=cast.bob)
    return {"slot_id": slot.pk}


ROUTES = {
    "alerts:detail": Route(
        allow={"admin", "bob", "therapist", "nurse"},
        not_found={"charlie"},
        kwargs=lambda cast: {"alert_id": open_alert(cast.alice).pk},
    ),
    "alerts:rota": Route(allow={"admin", "bob", "charlie"}),
    "alerts:rota_add": Route(allow={"bob", "charlie"}, method="post"),
    "alerts:rota_remove": Route(allow={"bob", "charlie"}, kwargs=a_slot, method="post"),
    "alerts:rota_default": Route(allow={"bob", "charlie"}, method="post"),
    "alerts:paging": Route(allow=CLINICIANS),
    "alerts:safety_plan": Route(**ALICE_RECORD),
    "alerts:safety_plan_save": Route(allow=CLINICIANS_OF_ALICE, not_found={"charlie"}, kwargs=alice, method="post"),
    "alerts:my_safety_plan": Route(allow={"alice_user", "dana_user"}),
}
