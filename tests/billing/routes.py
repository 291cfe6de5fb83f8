from tests.billing.factories import paid
from tests.conftest import Cast
from tests.matrix import ALICE_RECORD, PATIENTS, Route, alice

BILLING_STAFF = {"admin"}


def alice_visit(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk, "session_id": cast.dosing_session().pk}


def alice_payment(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk, "entry_id": paid(cast).pk}


def own_visit(cast: Cast) -> dict:
    return {"session_id": cast.dosing_session().pk}


def bob(cast: Cast) -> dict:
    return {"user_id": cast.bob.pk}


# Money is recorded by billing staff (admins) only: clinicians may read the account but are refused the writes
# (403, before any record is looked up).
WRITE = dict(allow=BILLING_STAFF, kwargs=alice, method="post")

ROUTES = {
    "billing:account": Route(**ALICE_RECORD),
    "billing:charge_add": Route(**WRITE),
    "billing:payment": Route(**WRITE),
    "billing:adjustment": Route(**WRITE),
    "billing:self_pay": Route(**WRITE),
    "billing:refund": Route(allow=BILLING_STAFF, kwargs=alice_payment),
    "billing:statement_pdf": Route(**ALICE_RECORD),
    "billing:period_superbill_pdf": Route(**ALICE_RECORD),
    "billing:visit_superbill": Route(**{**ALICE_RECORD, "kwargs": alice_visit}),
    "billing:visit_superbill_pdf": Route(**{**ALICE_RECORD, "kwargs": alice_visit}),
    "billing:visit_charges": Route(allow=BILLING_STAFF, kwargs=alice_visit, method="post"),
    "billing:estimate": Route(**ALICE_RECORD),
    "billing:estimate_pdf": Route(**ALICE_RECORD),
    "billing:fees": Route(allow=BILLING_STAFF),
    "billing:clinicians": Route(allow=BILLING_STAFF),
    "billing:clinician": Route(allow=BILLING_STAFF, kwargs=bob),
    "billing:aging": Route(allow=BILLING_STAFF),
    "billing:export": Route(allow=BILLING_STAFF),
    "billing:my_account": Route(allow=PATIENTS),
    "billing:my_statement_pdf": Route(allow=PATIENTS),
    "billing:my_period_superbill_pdf": Route(allow=PATIENTS),
    "billing:my_superbill_pdf": Route(allow={"alice_user"}, not_found={"dana_user"}, kwargs=own_visit),
}
