import datetime

from kapstone.accounts.models import AccountLink
from kapstone.accounts.services import account_link_create
from kapstone.practice.models import SettingProposal
from tests.conftest import Cast
from tests.foundation.softkey import stored_passkey
from tests.matrix import ALICE_RECORD, ALL_STAFF, PATIENTS, RECORD_STAFF, SIGNED_IN, Route, alice


def alice_part(kind: str):
    def kwargs(cast: Cast) -> dict:
        if kind == "diagnosis":
            return {"patient_id": cast.alice.pk, "kind": kind, "part_id": cast.alice.diagnoses.first().pk}
        return {"patient_id": cast.alice.pk, "kind": kind}

    return kwargs


def reset_link(cast: Cast) -> dict:
    """A usable password-reset link for alice (opening the page does not spend it)."""
    purpose, lifetime = AccountLink.Purpose.PASSWORD_RESET, datetime.timedelta(hours=1)
    return {"token": account_link_create(user=cast.alice_user, purpose=purpose, lifetime=lifetime)}


def bobs_passkey(cast: Cast) -> dict:
    return {"passkey_id": stored_passkey(cast.bob).pk}


def a_proposal(cast: Cast) -> dict:
    """The admin's pending proposal to change a clinical setting, for a prescriber to decide."""
    proposal = SettingProposal.objects.create(
        key="integration.outer_hours", value=60, reason="Our protocol", proposed_by=cast.admin
    )
    return {"proposal_id": proposal.pk}


ROUTES: dict[str, Route] = {
    "root": Route(allow=set(SIGNED_IN), public=True),
    "healthz": Route(allow=set(SIGNED_IN), public=True),
    "accounts:login": Route(allow=set(SIGNED_IN), public=True),
    "accounts:logout": Route(allow=set(SIGNED_IN), public=True, method="post"),
    "accounts:keep_alive": Route(allow=set(SIGNED_IN), method="post"),
    "accounts:confirm_identity": Route(allow=ALL_STAFF),
    "accounts:two_factor_setup": Route(allow=set(SIGNED_IN), public=True),
    "accounts:sign_in_second_step": Route(allow=set(SIGNED_IN), public=True),
    "accounts:passkey_sign_in_begin": Route(allow=set(SIGNED_IN), public=True, method="post", public_answers=(403,)),
    "accounts:passkey_sign_in_complete": Route(allow=set(SIGNED_IN), public=True, method="post", public_answers=(403,)),
    "accounts:two_factor": Route(allow=ALL_STAFF),
    "accounts:passkey_enrol_begin": Route(allow=ALL_STAFF, method="post"),
    "accounts:passkey_enrol_complete": Route(allow=ALL_STAFF, method="post"),
    # Someone else's passkey does not exist for you.
    "accounts:passkey_remove": Route(allow={"bob"}, not_found=ALL_STAFF - {"bob"}, method="post", kwargs=bobs_passkey),
    "accounts:password_change": Route(allow=set(SIGNED_IN)),
    "accounts:password_reset": Route(allow=set(SIGNED_IN), public=True),
    "accounts:set_password": Route(allow=set(SIGNED_IN), public=True, kwargs=reset_link),
    "accounts:security": Route(allow={"admin"}),
    "accounts:unlock": Route(allow={"admin"}, method="post"),
    "home:home": Route(allow=ALL_STAFF),
    "practice:settings": Route(allow={"admin", "bob", "charlie"}),
    "practice:setting_proposal_decide": Route(allow={"bob", "charlie"}, method="post", kwargs=a_proposal),
    "accounts:staff": Route(allow={"admin"}),
    "accounts:staff_action": Route(
        allow={"admin"}, method="post", kwargs=lambda cast: {"user_id": cast.nurse.pk, "action": "unlock"}
    ),
    "patients:list": Route(allow=RECORD_STAFF),
    "patients:create": Route(allow=RECORD_STAFF),
    "patients:detail": Route(**ALICE_RECORD),
    "patients:edit": Route(**ALICE_RECORD),
    "patients:care_team": Route(allow={"admin", "bob"}, not_found={"charlie"}, kwargs=alice),
    "patients:childbearing": Route(
        allow={"bob", "therapist", "nurse"}, not_found={"charlie"}, method="post", kwargs=alice
    ),
    "patients:portal_invite": Route(**{**ALICE_RECORD, "method": "post"}),
    "patients:audit": Route(allow={"admin"}, kwargs=alice),
    "patients:part_add": Route(**{**ALICE_RECORD, "kwargs": alice_part("medication")}, method="post"),
    "patients:part_remove": Route(**{**ALICE_RECORD, "kwargs": alice_part("diagnosis")}, method="post"),
    "portal:home": Route(allow=PATIENTS),
}
