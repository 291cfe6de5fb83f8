"""Writes to logins: staff accounts (by practice admins), patients' portal accounts, passwords and lockouts.
Each is atomic and audited."""

import copy
import datetime
import logging
import secrets
import smtplib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from kapstone.accounts import signals, tasks
from kapstone.accounts.models import AccountLink, User, link_token_digest
from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.accounts.selectors import AccountLinkUnusable, account_link_usable, sign_in_failures_from
from kapstone.audit import services as audit

logger = logging.getLogger(__name__)


class StaffError(ValueError):
    """A change to a staff account that must be refused, with a message for the admin."""


class AccountError(ValueError):
    """A change to a login that must be refused, with a message for whoever asked."""


@transaction.atomic
def staff_create(
    *,
    actor: User | None,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    credentials: str,
    password: str | None = None,
) -> User:
    """A new staff login. Without a password (a staff member added from the Staff page) it waits for its set-up link
    (staff_setup_link_send); the practice's first admin, made at the server's console, is given one. Either way they
    enrol an authenticator app at their first sign-in, before anything else."""
    if role not in STAFF_ROLES:
        raise StaffError("Choose a staff role.")
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        credentials=credentials,
    )
    audit.record(action=audit.Action.CREATE, actor=actor, object_type="staff", object_id=user.pk, detail={"role": role})
    return user


# Not atomic as a whole: the link is committed (_staff_setup_link_create) before the message is sent.
def staff_setup_link_send(*, actor: User, staff: User) -> None:
    """Emails a staff member still without a password a link to choose one; sent again, it replaces the earlier
    link. The password is chosen from their own mailbox, and the second factor is enrolled at the sign-in that
    follows: with a temporary password handed over by the admin, whoever held it could enrol a second factor in the
    staff member's place. A message that cannot be sent withdraws its link and raises AccountError; one beyond
    LINK_MESSAGES_PER_DAY is refused (StaffError)."""
    if not _link_limit_check(actor=actor, user=staff, purpose=AccountLink.Purpose.STAFF_SETUP):
        raise StaffError(_link_limit_message(staff))
    _staff_setup_mail(staff=staff, token=_staff_setup_link_create(actor=actor, staff=staff))


def _staff_setup_mail(*, staff: User, token: str) -> None:
    _mail_link(
        user=staff,
        token=token,
        to=staff.email,
        subject="Your Kapstone staff login",
        greeting=staff.first_name or staff.username,
        ask="Choose the password of your Kapstone staff login here:",
        after=[
            f"The link works once, for {settings.STAFF_SETUP_HOURS} hours. Your username is {staff.username}.",
            "Then sign in: before anything else, Kapstone asks you to set up an authenticator app for two-factor "
            "sign-in.",
            "If you did not expect this message, tell your practice's administrator.",
        ],
    )


def _staff_setup_link_refusal(staff: User) -> str | None:
    if not staff.is_active:
        return f"{staff.display_name}'s login is deactivated; reactivate it first."
    if not staff.email:
        return f"{staff.display_name} has no email address on file for a set-up link."
    return None


@transaction.atomic
def _staff_setup_link_create(*, actor: User, staff: User) -> str:
    refusal = _staff_setup_link_refusal(staff)
    if refusal:
        raise StaffError(refusal)
    if staff.has_usable_password():
        raise StaffError(
            f"{staff.display_name} has already chosen a password; if it is forgotten, they reset it from the sign-in "
            "page."
        )
    token = account_link_create(
        user=staff,
        purpose=AccountLink.Purpose.STAFF_SETUP,
        lifetime=datetime.timedelta(hours=settings.STAFF_SETUP_HOURS),
    )
    audit.record(action=audit.Action.CREATE, actor=actor, object_type="staff_setup_link", object_id=staff.pk)
    return token


@transaction.atomic
def two_factor_device_pending(*, user: User) -> TOTPDevice:
    """The authenticator app a staff member is enrolling: the one not yet confirmed, made on first need. Not audited:
    it is no second factor until confirmed, and two_factor_device_confirm records that."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": "Authenticator app"})
    return device


@transaction.atomic
def two_factor_device_confirm(*, actor: User, device: TOTPDevice) -> None:
    """A staff member's own authenticator app, confirmed by a code it showed: from now on sign-in asks for it."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(action=audit.Action.UPDATE, actor=actor, object_type="two_factor_device", object_id=device.pk)


@transaction.atomic
def passkey_enrolled(*, actor: User, passkey: WebAuthnCredential) -> None:
    """A passkey the staff member just made (verified by the library): named for their list, and audited."""
    count = WebAuthnCredential.objects.filter(user=actor).count()
    passkey.name = f"Passkey {count}" if count > 1 else "Passkey"
    passkey.save(update_fields=["name"])
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="passkey",
        object_id=passkey.pk,
        detail={"aaguid": passkey.aaguid},
    )


@transaction.atomic
def passkey_remove(*, actor: User, passkey_id: int) -> str:
    """Removes one of the actor's own passkeys (another's is not found). Any session verified with it is no longer
    verified. Refused when it is their only second factor. Returns the passkey's name."""
    passkey = WebAuthnCredential.objects.select_for_update().filter(user=actor, pk=passkey_id).first()
    if passkey is None:
        raise WebAuthnCredential.DoesNotExist
    others = (
        WebAuthnCredential.objects.filter(user=actor, confirmed=True).exclude(pk=passkey.pk).exists()
        or TOTPDevice.objects.filter(user=actor, confirmed=True).exists()
    )
    if not others:
        raise AccountError("This passkey is your only second factor; add another before removing it.")
    name = str(passkey.name)
    passkey.delete()
    audit.record(action=audit.Action.DELETE, actor=actor, object_type="passkey", object_id=passkey_id)
    return name


@transaction.atomic
def staff_set_active(*, actor: User, staff: User, active: bool) -> None:
    if staff.pk == actor.pk and not active:
        raise StaffError("You cannot deactivate your own login.")
    staff.is_active = active
    staff.save(update_fields=["is_active"])
    if not active:
        sessions_end(user=staff)
        # A link still in a mailbox would work again once the login is reactivated: a new one is asked for then.
        _account_links_end(user=staff)
        signals.credentials_ended.send(sender=User, actor=actor, user=staff)
    audit.record(
        action=audit.Action.UPDATE, actor=actor, object_type="staff", object_id=staff.pk, detail={"active": active}
    )


# Not atomic as a whole: the reset and its set-up link are committed (_staff_two_factor_reset) before the message
# is sent.
def staff_reset_two_factor(*, actor: User, staff: User) -> None:
    """For a lost phone or security key: removes every second factor (authenticator apps, recovery codes,
    passkeys) and the password, and emails a set-up link. The staff member chooses a new password from their own
    mailbox and enrols a new authenticator app at the sign-in that follows. Had the password stayed, whoever knew it
    (a phished or shared one) could sign in before them and enrol a second factor of their own. A message that cannot
    be sent raises AccountError after the reset; the link can then be sent again from the staff list. When the
    staff member has had LINK_MESSAGES_PER_DAY link messages already, nothing is reset (StaffError)."""
    if not _link_limit_check(actor=actor, user=staff, purpose=AccountLink.Purpose.STAFF_SETUP):
        raise StaffError(_link_limit_message(staff))
    _staff_setup_mail(staff=staff, token=_staff_two_factor_reset(actor=actor, staff=staff))


@transaction.atomic
def _staff_two_factor_reset(*, actor: User, staff: User) -> str:
    refusal = _staff_setup_link_refusal(staff)
    if refusal:
        raise StaffError(refusal)
    TOTPDevice.objects.filter(user=staff).delete()
    StaticDevice.objects.filter(user=staff).delete()
    WebAuthnCredential.objects.filter(user=staff).delete()
    staff.set_unusable_password()
    staff.save(update_fields=["password"])
    # Whoever holds the lost phone may also hold a signed-in session (or be halfway through signing in): end them.
    sessions_end(user=staff)
    signals.credentials_ended.send(sender=User, actor=actor, user=staff)
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="staff_two_factor",
        object_id=staff.pk,
        detail={"reset": True},
    )
    return _staff_setup_link_create(actor=actor, staff=staff)


@transaction.atomic
def staff_unlock(*, actor: User, staff: User) -> None:
    axes_reset(username=staff.get_username())
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="staff_lockout",
        object_id=staff.pk,
        detail={"unlocked": True},
    )


@transaction.atomic
def sessions_end(*, user: User) -> None:
    """Signs the user out of every session they have open (a session is bound to the user's session hash)."""
    get_user_model().objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])


@transaction.atomic
def sessions_clear_expired() -> int:
    """Deletes every session past its expiry, and says how many. Nothing else deletes them: an idle session ends by
    its expiry, and its row, with whom it signed in and any note not yet shown, stayed in the database for good."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@transaction.atomic
def account_unlock(*, actor: User, username: str) -> None:
    """Lifts a lockout after repeated failed sign-ins, for a staff member or a patient."""
    if not AccessAttempt.objects.filter(username=username).exists():
        raise AccountError(f"No sign-in failures are recorded for {username!r}.")
    axes_reset(username=username)
    user = get_user_model().objects.filter(username=username).first()
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="account_lockout",
        object_id=user.pk if user else "",
        detail={"unlocked": username},
    )


@transaction.atomic
def sign_in_record(*, user: User, two_factor: bool, method: str = "") -> None:
    """A sign-in that completed: with the password alone, or with a second factor (`method` names it when the
    second step gave it: an authenticator app or a passkey)."""
    detail: dict[str, object] = {"two_factor": two_factor}
    if method:
        detail["method"] = method
    audit.record(action=audit.Action.LOGIN, actor=user, detail=detail)


@transaction.atomic
def identity_confirm_record(*, user: User) -> None:
    """The signed-in person typed their password again before a change that hands out access or data."""
    audit.record(action=audit.Action.LOGIN, actor=user, detail={"identity_confirmed": True})


@transaction.atomic
def sign_out_record(*, user: User, ended: str = "", locked_out: bool = False) -> None:
    """A session ended: by the person signing out, at its absolute lifetime (`ended`), or because their own password
    typed again wrong reached the lockout (`locked_out`)."""
    detail: dict[str, object] = {}
    if ended:
        detail["ended"] = ended
    if locked_out:
        detail["locked_out"] = True
    audit.record(action=audit.Action.LOGOUT, actor=user, detail=detail)


@transaction.atomic
def sign_in_failure_record(*, username: str, second_signature: str = "", recorded_by: str = "") -> None:
    """A failed sign-in, with the name that was tried: never the password. A wrong password typed as the second
    signature of an entry (second_signature_confirm) is one too, as it counts towards the same lockout, but says so:
    `second_signature` names the signer's part ("witness") and `recorded_by` whose screen it was typed at, so the
    admins' security screen does not show the witness as someone who tried to sign in."""
    user = get_user_model().objects.filter(username=username).only("pk").first()
    detail = {"username": username[:150]}
    if second_signature:
        detail |= {"second_signature": second_signature, "recorded_by": recorded_by[:150]}
    audit.record(
        action=audit.Action.LOGIN, object_type="sign_in_failed", object_id=user.pk if user else "", detail=detail
    )


# --- a second person's signature, typed at the actor's screen ------------------------------------------------


class SecondSignatureRefused(AccountError):
    """A second signature that is not given: a wrong password, a locked, deactivated or ineligible signer, or the
    actor themselves. The message is for the form, beside the signer's password."""


# Only second_signature_confirm (and the demo seed's second_signature_for_demo_seed) make a SecondSignature.
_ISSUED = object()
# The key of a signer's check's request.META naming the signer's part ("witness"), for the failure's audit record.
SECOND_SIGNATURE_ROLE = "kapstone.second_signature_role"


@dataclass(frozen=True)
class SecondSignature:
    """Another member of staff's confirmation that they stand behind an entry, made by second_signature_confirm when
    they typed their own password at the actor's screen (as an automated dispensing cabinet asks its witness): who
    (`signer`), when (`confirmed_at`) and how (`method`). It carries no password."""

    signer: User
    confirmed_at: datetime.datetime
    method: str
    issued: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.issued is not _ISSUED:
            raise TypeError("A second signature is made only by accounts.services.second_signature_confirm.")

    def audit_detail(self, role: str) -> dict[str, object]:
        """What the audit trail keeps of it, under `role` ("witness"): who, when and how; never the password."""
        return {
            f"{role}_id": self.signer.pk,
            f"{role}_confirmed_at": self.confirmed_at.isoformat(),
            f"{role}_confirmed_by": self.method,
        }


def _signer_locked_message(signer: User) -> str:
    return (
        f"{signer.display_name}'s login is locked after too many wrong passwords, so they cannot sign now. They can "
        "again once the lock ends, or a practice admin unlocks it."
    )


# Not atomic, and called before the write it signs opens its transaction: a wrong password must count towards the
# signer's lockout (django-axes writes the failure) even though the write it was for is refused and rolled back.
def second_signature_confirm(
    *, request: HttpRequest, signer: User, password: str, roles: Collection[str], role: str = "witness"
) -> SecondSignature:
    """The second person of a two-person check (a witnessed dose or waste, a checked receipt, a witnessed count),
    confirmed by their own password typed at the screen of whoever records it (`request.user`). The password is
    checked as sign-in checks it: through django-axes, so a wrong one counts towards the signer's own lockout exactly
    as a wrong password at sign-in does (and goes into the audit trail as a failed sign-in, with the username only);
    a locked login, and any signer from an address with as many failed sign-ins as the sign-in page refuses
    (settings.SIGN_IN_ADDRESS_FAILURE_LIMIT), are refused without the password being tried. Refused
    (SecondSignatureRefused) too: the actor as their own second signature, a deactivated login, and a signer whose
    role is not in `roles`. `role` names the signer in the messages ("witness", "checker"). A correct password signs
    nothing in: the actor's session stays theirs. Nor does it clear the signer's earlier failures: django-axes clears
    them at a sign-in, which takes the second factor too, and they count wrong codes as well as wrong passwords. Were
    the password alone to clear them, whoever saw it typed at a screen could try the signer's codes at sign-in and
    sign as their witness between tries to start the count again; the cool-off time or an admin's unlock clears it."""
    actor = getattr(request, "user", None)
    if actor is not None and actor.pk is not None and actor.pk == signer.pk:
        raise SecondSignatureRefused(f"The {role} must be another person than you.")
    if not signer.is_active or signer.role not in roles:
        raise SecondSignatureRefused(f"{signer.display_name} cannot sign this entry.")
    # The signer's check runs on a copy of the request without its form: django-axes keeps the POST data of a
    # failure, and masks only a field named "password"; and the lockout it marks is the signer's, which on the
    # request itself would answer the actor's own page with the lockout page.
    signing = copy.copy(request)
    signing.POST = QueryDict()
    # Read by the failure's audit record (signals.record_failed_sign_in): a witness's wrong password, not a sign-in.
    # A META of its own, as the copy shares the actor's.
    signing.META = {**request.META, SECOND_SIGNATURE_ROLE: role}
    # One screen trying one common password on every signer in turn is stopped as a sign-in page is (spraying).
    if sign_in_failures_from(request=signing) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT:
        raise SecondSignatureRefused(
            "Too many wrong passwords have been typed from this device; no one can sign from it for a while."
        )
    credentials = {"username": signer.get_username()}
    if AxesProxyHandler.is_locked(signing, credentials=credentials):
        raise SecondSignatureRefused(_signer_locked_message(signer))
    confirmed = authenticate(signing, username=signer.get_username(), password=password or "")
    if confirmed is None or confirmed.pk != signer.pk:
        if getattr(signing, "axes_locked_out", False):
            raise SecondSignatureRefused(_signer_locked_message(signer))
        raise SecondSignatureRefused(f"The {role}'s password is not right.")
    return SecondSignature(signer=signer, confirmed_at=timezone.now(), method="password", issued=_ISSUED)


def second_signature_for_demo_seed(*, signer: User) -> SecondSignature:
    """The demo practice's seed only (home's seed_demo, through dosing.demo): the synthetic history's second
    signatures, given by no one at a screen. Refused outside a demo install."""
    if not settings.DEMO:
        raise SecondSignatureRefused("A second signature without a password is made only for the demo practice.")
    return SecondSignature(signer=signer, confirmed_at=timezone.now(), method="demo seed", issued=_ISSUED)


# --- emailed links that set a password --------------------------------------------------------------------


@transaction.atomic
def account_link_create(*, user: User, purpose: str, lifetime: datetime.timedelta) -> str:
    """A new single-use link; ends the person's older unused links of the same kind. Returns the token once."""
    now = timezone.now()
    AccountLink.objects.filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    token = secrets.token_urlsafe(32)
    AccountLink.objects.create(
        user=user, purpose=purpose, token_hash=link_token_digest(token), created_at=now, expires_at=now + lifetime
    )
    return token


# The window LINK_MESSAGES_PER_DAY counts in.
LINK_MESSAGE_WINDOW = datetime.timedelta(hours=24)


def link_messages_limit_reached(*, sent_at: Iterable[datetime.datetime], now: datetime.datetime) -> bool:
    """Whether messages sent at these times leave no room for another to the same person under
    LINK_MESSAGES_PER_DAY (the questionnaire links count theirs with it too)."""
    recent = [moment for moment in sent_at if moment > now - LINK_MESSAGE_WINDOW]
    return len(recent) >= settings.LINK_MESSAGES_PER_DAY


def _link_limit_message(user: User) -> str:
    return (
        f"Kapstone has sent {settings.LINK_MESSAGES_PER_DAY} messages with a link to {user.email or 'this login'} "
        "in the last 24 hours, the most it sends one person; try again tomorrow. If they are not arriving, check "
        "the address with them."
    )


@transaction.atomic
def _link_limit_check(*, actor: User | None, user: User, purpose: str, patient_id: int | None = None) -> bool:
    """Whether another link message may go to this login now. A refusal is recorded, in a transaction of its own
    so the caller's refusal does not roll it back."""
    now = timezone.now()
    # Links whose messages were not sent are deleted (_account_link_withdraw), so each row here is a message.
    sent = AccountLink.objects.filter(user=user, created_at__gt=now - LINK_MESSAGE_WINDOW).values_list(
        "created_at", flat=True
    )
    if not link_messages_limit_reached(sent_at=sent, now=now):
        return True
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient_id=patient_id,
        object_type="link_limit_reached",
        object_id=user.pk,
        detail={"purpose": purpose, "limit": settings.LINK_MESSAGES_PER_DAY},
    )
    return False


def _account_links_end(*, user: User) -> None:
    """Ends every link of the person's not yet used, of either kind: once a password is chosen, a reset or
    invitation still lying in a mailbox must not choose another."""
    now = timezone.now()
    AccountLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)


@transaction.atomic
def login_email_follow(*, actor: User, user: User, email: str) -> None:
    """A patient's login takes the address now on their record, where password links go: it kept the address of its
    invitation, so after staff corrected a wrong or lost address a reset link still went to the old mailbox, and
    whoever read that mailbox chose the password. Links not yet used, sent to the old address, end."""
    email = email.strip()
    if user.email == email:
        return
    user.email = email
    user.save(update_fields=["email"])
    _account_links_end(user=user)
    # Field names, never addresses: the trail must not become a second copy of the record.
    audit.record(
        action=audit.Action.UPDATE, actor=actor, object_type="login_email", object_id=user.pk, detail={"changed": True}
    )


def _link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("accounts:set_password", kwargs={"token": token})


def _mail_link(*, user: User, token: str, to: str, subject: str, greeting: str, ask: str, after: list[str]) -> None:
    """Sends `to` a message carrying a link (its greeting, what the link is for, the link, what follows) once the
    link is committed, so whoever follows it at once finds it. A message that cannot be sent withdraws its link (no usable
    link is left that never left Kapstone) and says so."""
    lines = [f"Hello {greeting},", "", ask, _link_url(token), "", *after]
    try:
        send_mail(
            subject=subject,
            message="\n".join(lines),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[to],
        )
    except (smtplib.SMTPException, OSError) as problem:
        _account_link_withdraw(user_id=user.pk, token=token)
        raise AccountError(f"The email could not be sent ({problem.__class__.__name__}); try again later.") from None


@transaction.atomic
def _account_link_withdraw(*, user_id: int, token: str) -> None:
    """Removes the link of a message that was not sent (so it counts toward no limit), and records that."""
    AccountLink.objects.filter(user_id=user_id, token_hash=link_token_digest(token), used_at__isnull=True).delete()
    audit.record(action=audit.Action.UPDATE, object_type="account_link", object_id=user_id, detail={"not_sent": True})


class InvitedPatient(Protocol):
    """What an invitation reads and writes on a patient's record (the patients app sits above this one)."""

    pk: int
    email: str
    given_name: str
    family_name: str
    preferred_name: str
    user: User | None

    def save(self, *, update_fields: Iterable[str] | None = None) -> None: ...


# Not atomic as a whole: the login and link are committed (_portal_invitation_create) before the message is sent.
def portal_invite(*, actor: User, patient: InvitedPatient) -> User:
    """Gives a patient a portal login and emails them a link to choose their password; sent again, it replaces
    the earlier link. The login's username is the patient's email address. The message leaves once the login and
    its link are committed; if it cannot be sent, the link is withdrawn and the login, still without a password,
    waits for the invitation to be sent again. One beyond LINK_MESSAGES_PER_DAY is refused (AccountError)."""
    invited = patient.user  # None until the first invitation makes the login: nothing sent to it yet
    if invited is not None and not _link_limit_check(
        actor=actor, user=invited, purpose=AccountLink.Purpose.PORTAL_INVITATION, patient_id=patient.pk
    ):
        raise AccountError(_link_limit_message(invited))
    user, token, address = _portal_invitation_create(actor=actor, patient=patient)
    _mail_link(
        user=user,
        token=token,
        to=address,
        subject="Your patient portal",
        greeting=patient.preferred_name or patient.given_name,
        ask="Your care team has opened a patient portal for you. Choose your password here:",
        after=[
            f"The link works once, for {settings.PORTAL_INVITATION_HOURS} hours. Your username is {user.username}.",
            "If you did not expect this message, you can ignore it.",
        ],
    )
    return user


@transaction.atomic
def _portal_invitation_create(*, actor: User, patient: InvitedPatient) -> tuple[User, str, str]:
    """The patient's login (made if they have none) and a new invitation link: (the login, the link's token, the
    address on the patient's record now, which the invitation goes to)."""
    email = (patient.email or "").strip()
    if not email:
        raise AccountError("Add the patient's email address to their record first: the invitation goes there.")
    user = patient.user
    if user is not None and user.has_usable_password():
        raise AccountError(
            "This patient already has a portal login. If they forgot the password, they can reset it from the "
            "sign-in page."
        )
    if user is None:
        users = get_user_model().objects
        if users.filter(username__iexact=email).exists():
            raise AccountError(f"{email} is already the username of another login; correct the patient's email.")
        # The unique username decides a race the check above cannot see (two invitations sent at once, a double
        # click): the second is refused in a savepoint rather than shown a server error.
        try:
            with transaction.atomic():
                user = users.create_user(
                    username=email.lower(),
                    email=email,
                    first_name=patient.given_name,
                    last_name=patient.family_name,
                    role=Role.PATIENT,
                    password=None,
                )
        except IntegrityError:
            raise AccountError(
                f"{email} became the username of a login while this invitation was being made (another invitation "
                "sent at the same moment?); reload the patient's page to see it."
            ) from None
        patient.user = user
        patient.save(update_fields=["user"])
    elif not user.is_active:
        raise AccountError("This patient's portal login is deactivated.")
    token = account_link_create(
        user=user,
        purpose=AccountLink.Purpose.PORTAL_INVITATION,
        lifetime=datetime.timedelta(hours=settings.PORTAL_INVITATION_HOURS),
    )
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        patient=patient,
        object_type="portal_invitation",
        object_id=user.pk,
    )
    return user, token, email


# Not atomic: it writes nothing; the worker's password_reset_send does.
def password_reset_request(*, identifier: str, ip_address: str = "") -> None:
    """Hands a reset request to a worker (password_reset_send), whatever it names: the form's answer then takes as
    long for a login as for no one. Sent here, the message to a login that matched held the answer for the mail
    server's round trip, which told anyone timing the form that an address belonged to a login (a patient's login
    is their email address). The typed name or address goes to the broker, never a link. A broker that cannot be
    reached is logged; the visitor is answered as ever and may ask again."""
    try:
        tasks.send_password_reset.delay(identifier.strip(), ip_address)
    except Exception:
        logger.error("A password reset request could not be queued", exc_info=True)


# Not atomic as a whole: the links are committed (_password_reset_links_create) before any message is sent.
def password_reset_send(*, identifier: str) -> None:
    """Emails a reset link to each active login with this username or email address. Says nothing back, so
    the form cannot be used to find out who has an account. Each message leaves once its link is committed.

    A message that cannot be sent is not told to the visitor either: "could not be sent" would say a login
    matched. Its link is withdrawn and recorded (so the next request sends a new one), and the failure goes
    to the error log for whoever runs the mail."""
    minutes = settings.PASSWORD_RESET_MINUTES
    second_factor = ["Staff then sign in with the new password and their second factor.", ""]
    for user, token in _password_reset_links_create(identifier=identifier.strip()):
        try:
            _mail_link(
                user=user,
                token=token,
                to=user.email,
                subject="Reset your Kapstone password",
                greeting=user.first_name or user.username,
                ask="Someone asked to reset the password of your login. Choose a new one here:",
                after=[
                    f"The link works once, for {minutes} minutes.",
                    *(second_factor if user.is_staff_member else []),
                    "If you did not ask for this, ignore this message; your password stays as it is.",
                ],
            )
        except AccountError as problem:
            logger.error("A password reset message to login %s was not sent: %s", user.pk, problem)


# At most one reset message to a login in this time: the form is open to anyone, and without it anyone could fill a
# person's inbox with reset messages. The link sent first keeps working for its full lifetime meanwhile.
RESET_MESSAGE_INTERVAL = datetime.timedelta(minutes=5)


@transaction.atomic
def _password_reset_links_create(*, identifier: str) -> list[tuple[User, str]]:
    """A new reset link for each active login with this username or email address, unless one was sent to it in the
    last RESET_MESSAGE_INTERVAL or it has had LINK_MESSAGES_PER_DAY link messages: (the login, the token)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    matches = users.filter(username__iexact=identifier) or users.filter(email__iexact=identifier)
    now = timezone.now()
    # A link still usable: one withdrawn because its message could not be sent, or already used, does not count.
    recently = AccountLink.objects.filter(
        purpose=AccountLink.Purpose.PASSWORD_RESET,
        created_at__gt=now - RESET_MESSAGE_INTERVAL,
        used_at__isnull=True,
        expires_at__gt=now,
    ).values_list("user_id", flat=True)
    links = []
    for user in matches.exclude(pk__in=recently):
        # Refused in silence, as every answer to this form is; the refusal is recorded (_link_limit_check).
        if not _link_limit_check(actor=None, user=user, purpose=AccountLink.Purpose.PASSWORD_RESET):
            continue
        token = account_link_create(
            user=user,
            purpose=AccountLink.Purpose.PASSWORD_RESET,
            lifetime=datetime.timedelta(minutes=settings.PASSWORD_RESET_MINUTES),
        )
        audit.record(action=audit.Action.UPDATE, object_type="password_reset_requested", object_id=user.pk)
        links.append((user, token))
    return links


@transaction.atomic
def password_set_by_link(*, token: str, password: str) -> User:
    """Spends the link and sets the password it was sent for. The caller has validated the password. The new
    password ends the user's other sessions; they then sign in (staff with their second factor)."""
    link = account_link_usable(token=token)
    link = AccountLink.objects.select_for_update().select_related("user").get(pk=link.pk)
    if link.used_at is not None:
        raise AccountLinkUnusable("This link has already been used. Sign in, or ask for a new link.")
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    user = link.user
    user.set_password(password)
    user.save(update_fields=["password"])
    _account_links_end(user=user)
    axes_reset(username=user.get_username())
    signals.credentials_ended.send(sender=User, actor=user, user=user)
    audit.record(
        action=audit.Action.UPDATE,
        actor=user,
        object_type="password",
        object_id=user.pk,
        detail={"set_by": link.purpose},
    )
    return user


@transaction.atomic
def password_change(*, user: User, password: str) -> None:
    """The user's own change, after they gave the old password; their other sessions end with the old hash."""
    user.set_password(password)
    user.save(update_fields=["password"])
    _account_links_end(user=user)
    signals.credentials_ended.send(sender=User, actor=user, user=user)
    audit.record(action=audit.Action.UPDATE, actor=user, object_type="password", object_id=user.pk)
