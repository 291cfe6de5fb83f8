from kapstone.screening.models import Consultation
from tests.conftest import Cast
from tests.matrix import ALICE_RECORD, PATIENTS, RECORD_STAFF, Route
from tests.screening import helpers


def needs_review_result(cast: Cast) -> dict:
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    return {"result_id": result.pk}


def reply(cast: Cast) -> dict:
    return {"consultation_id": helpers.consult(cast, with_reply=True).pk}


def concerns(cast: Cast) -> dict:
    return {"consultation_id": helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS).pk}


def signature(cast: Cast) -> dict:
    return {"signature_id": helpers.sign_consent(cast).pk}


ROUTES = {
    "screening:list": Route(allow=RECORD_STAFF),
    "screening:patient": Route(**ALICE_RECORD),
    "screening:intake": Route(**ALICE_RECORD),
    "screening:rescreen": Route(**ALICE_RECORD, method="post"),
    "screening:consultation_add": Route(**ALICE_RECORD, method="post"),
    "screening:consent_paper": Route(**ALICE_RECORD, method="post"),
    "screening:override": Route(allow={"bob"}, not_found={"charlie"}, kwargs=needs_review_result, method="post"),
    "screening:reply": Route(**{**ALICE_RECORD, "kwargs": reply}),
    "screening:advice_override": Route(allow={"bob"}, not_found={"charlie"}, kwargs=concerns, method="post"),
    "screening:consent_withdraw": Route(**{**ALICE_RECORD, "kwargs": signature}, method="post"),
    "screening:portal": Route(allow=PATIENTS),
    "screening:portal_pre_intake": Route(allow=PATIENTS),
    "screening:portal_consent": Route(allow=PATIENTS),
    "screening:portal_consent_withdraw": Route(allow=PATIENTS, method="post"),
}
