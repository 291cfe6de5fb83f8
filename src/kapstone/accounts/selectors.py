"""Reads for the admins' security screen (locked logins, failed sign-ins and refused access) and for a staff
member's own second factors, and whether an emailed link can still set a password."""

import datetime
from dataclasses import dataclass

from axes.helpers import get_client_ip_address, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.db.models import Q, QuerySet, Sum
from django.http import Http404, HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from kapstone.accounts.models import AccountLink, User, link_token_digest
from kapstone.accounts.roles import STAFF_ROLES
from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent

SECURITY_EVENTS_SHOWN = 200


class AccountLinkUnusable(ValueError):
    """An emailed link that cannot set a password: unknown (mistyped or altered), used, or expired."""


def staff_logins() -> QuerySet[User]:
    """Every staff login for the admin's list, the active ones first."""
    return User.objects.filter(role__in=STAFF_ROLES).order_by("-is_active", "last_name", "first_name")


def staff_login_get(user_id: int) -> User:
    """A staff login by id; 404 for a patient's login or none."""
    try:
        return User.objects.get(pk=user_id, role__in=STAFF_ROLES)
    except User.DoesNotExist:
        raise Http404 from None


def locked_accounts(*, request: HttpRequest) -> list[AccessAttempt]:
    """Usernames whose failures reached the lockout limit (and are not yet cooled off or unlocked)."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=get_failure_limit(request, {}))
    cool_off = get_cool_off(request)
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return list(attempts.order_by("-attempt_time"))


def sign_in_failures_from(*, request: HttpRequest) -> int:
    """The failed sign-ins from the request's address, for any username, within the lockout's cool-off time."""
    attempts = AccessAttempt.objects.filter(ip_address=get_client_ip_address(request))
    cool_off = get_cool_off(request)
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0


@dataclass(frozen=True)
class SecurityEvent:
    """One row of the admins' security screen, in words: what happened (`what`) and to what (`detail`)."""

    at: datetime.datetime
    actor_label: str
    what: str
    detail: str
    ip_address: str


def _security_event(event: AuditEvent) -> SecurityEvent:
    data = event.detail_data
    if event.object_type == "sign_in_failed" and data.get("second_signature"):
        # Typed at someone's screen as their entry's second signature: the row is the recorder's (actor_label).
        role, recorded_by = data["second_signature"], data.get("recorded_by")
        what = f"Wrong {role} password"
        detail = f"{data.get('username', '')} as {role}" + (f", at {recorded_by}'s screen" if recorded_by else "")
    elif event.object_type == "sign_in_failed":
        what, detail = "Failed sign-in", str(data.get("username", ""))
    elif event.object_type == "account_lockout":
        what, detail = "Unlocked", str(data.get("unlocked", ""))
    else:
        what = "Refused (role)" if data.get("outcome") == "forbidden" else "Refused or not found"
        detail = f"{data.get('method', '')} {data.get('path', '')}".strip()
    return SecurityEvent(
        at=event.at, actor_label=event.actor_label, what=what, detail=detail, ip_address=event.ip_address
    )


def security_events() -> list[SecurityEvent]:
    """The newest failed sign-ins (a witness's wrong password among them, said as such) and refused requests;
    reading them is itself audited."""
    events = list(
        AuditEvent.objects.filter(
            Q(object_type="sign_in_failed") | Q(object_type="access_denied") | Q(object_type="account_lockout")
        ).order_by("-id")[:SECURITY_EVENTS_SHOWN]
    )
    audit.record(action=audit.Action.READ, object_type="security_events", detail={"shown": len(events)})
    return [_security_event(event) for event in events]


def passkeys_of(*, user: User) -> QuerySet[WebAuthnCredential]:
    """The user's own confirmed passkeys, oldest first: only ever their own."""
    # django-otp-webauthn has no type information: its models are Any to mypy.
    passkeys: QuerySet[WebAuthnCredential] = WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by(
        "created_at", "pk"
    )
    return passkeys


def has_passkey(*, user: User) -> bool:
    """Whether the user has a confirmed passkey to finish a sign-in with."""
    return passkeys_of(user=user).exists()


def has_code_device(*, user: User) -> bool:
    """Whether the user has a confirmed authenticator app (or recovery codes) that accepts a typed code."""
    return bool(
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticDevice.objects.filter(user=user, confirmed=True).exists()
    )


def account_link_usable(*, token: str) -> AccountLink:
    """The link for this token, if it can still set a password; otherwise AccountLinkUnusable says why."""
    link = (
        AccountLink.objects.select_related("user")
        .filter(token_hash=link_token_digest(token or ""), user__is_active=True)
        .first()
    )
    if link is None:
        raise AccountLinkUnusable(
            "This link is not valid: it may be incomplete or altered. Copy the whole link from the email, or ask "
            "for a new one."
        )
    if link.used_at is not None:
        raise AccountLinkUnusable("This link has already been used. Sign in, or ask for a new link.")
    if link.expires_at <= timezone.now():
        raise AccountLinkUnusable("This link has expired. Ask for a new one.")
    return link
