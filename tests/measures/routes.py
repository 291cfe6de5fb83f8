import datetime

from kapstone.measures import services
from tests.conftest import Cast
from tests.matrix import ALICE_RECORD, PATIENTS, RECORD_STAFF, Route, alice
from tests.measures.factories import due_assessment, invitation_token, open_alert

CLINICIANS_OF_ALICE = {"bob", "therapist", "nurse"}


def entered_total(cast: Cast):
    return services.assessment_record_total(
        actor=cast.bob,
        patient=cast.alice,
        instrument_id="bdi-ii",
        total=12,
        completed_on=datetime.date.today(),
        items={9: 0},
    )


def alice_assessment(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk, "assessment_id": due_assessment(cast.alice).pk}


ROUTES = {
    "measures:patient": Route(**ALICE_RECORD),
    "measures:enter_total": Route(allow=CLINICIANS_OF_ALICE, not_found={"charlie"}, kwargs=alice, method="post"),
    "measures:amend_total": Route(
        allow=CLINICIANS_OF_ALICE,
        not_found={"charlie"},
        kwargs=lambda cast: {"patient_id": cast.alice.pk, "assessment_id": entered_total(cast).pk},
        method="post",
    ),
    "measures:urine_toxicology": Route(allow=CLINICIANS_OF_ALICE, not_found={"charlie"}, kwargs=alice, method="post"),
    "measures:start": Route(allow=CLINICIANS_OF_ALICE, not_found={"charlie"}, kwargs=alice, method="post"),
    "measures:record": Route(allow=CLINICIANS_OF_ALICE, not_found={"charlie"}, kwargs=alice_assessment),
    "measures:alerts": Route(allow=RECORD_STAFF),
    "measures:acknowledge": Route(
        allow=CLINICIANS_OF_ALICE,
        not_found={"charlie"},
        kwargs=lambda cast: {"alert_id": open_alert(cast.alice).pk},
        method="post",
    ),
    "measures:correct_finding": Route(
        allow={"bob"},
        not_found={"charlie"},
        kwargs=lambda cast: {"alert_id": open_alert(cast.alice).pk},
        method="post",
    ),
    "measures:schedule_group": Route(
        allow={"admin", "bob"},
        not_found={"charlie"},
        kwargs=lambda cast: {"group_id": cast.dosing_session().group_id},
        method="post",
    ),
    "portal:invitation": Route(
        allow={"alice_user"}, not_found={"dana_user"}, kwargs=lambda cast: {"token": invitation_token(cast.alice)}
    ),
    "portal:questionnaire": Route(
        allow={"alice_user"},
        not_found={"dana_user"},
        kwargs=lambda cast: {"assessment_id": due_assessment(cast.alice).pk},
    ),
    "portal:history": Route(allow=PATIENTS),
}
