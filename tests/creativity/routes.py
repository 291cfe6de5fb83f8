from tests.conftest import Cast
from tests.creativity.factories import due_task
from tests.matrix import ALICE_RECORD, PATIENTS, Route


def alice_task(cast: Cast) -> dict:
    return {"administration_id": due_task(cast.alice).pk}


def alice_task_record(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk, "administration_id": due_task(cast.alice).pk}


ROUTES = {
    "creativity:my_tasks": Route(allow=PATIENTS),
    "creativity:my_history": Route(allow=PATIENTS),
    "creativity:my_task": Route(allow={"alice_user"}, not_found={"dana_user"}, kwargs=alice_task),
    "creativity:my_autosave": Route(allow={"alice_user"}, not_found={"dana_user"}, kwargs=alice_task, method="post"),
    "creativity:patient": Route(**ALICE_RECORD),
    "creativity:administration": Route(**{**ALICE_RECORD, "kwargs": alice_task_record}),
    "creativity:schedule": Route(**{**ALICE_RECORD, "method": "post"}),
    "creativity:schedule_group": Route(
        allow={"admin", "bob"},
        not_found={"charlie"},
        kwargs=lambda cast: {"group_id": cast.dosing_session().group_id},
        method="post",
    ),
}
