"""Reads for the admins' security screen: locked logins, failed sign-ins and refused access."""

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.db.models import Q
from django.utils import timezone

from kapstone.audit import services as audit
from kapstone.audit.models import AuditEvent

SECURITY_EVENTS_SHOWN = 200


def locked_accounts(*, request) -> list[AccessAttempt]:
    """Usernames whose failures reached the lockout limit (and are not yet cooled off or unlocked)."""
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=get_failure_limit(request, {}))
    cool_off = get_cool_off(request)
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return list(attempts.order_by("-attempt_time"))


def security_events() -> list[AuditEvent]:
    """The newest failed sign-ins and refused requests; reading them is itself audited."""
    events = list(
        AuditEvent.objects.filter(
            Q(object_type="sign_in_failed") | Q(object_type="access_denied") | Q(object_type="account_lockout")
        ).order_by("-id")[:SECURITY_EVENTS_SHOWN]
    )
    audit.record(action=audit.Action.READ, object_type="security_events", detail={"shown": len(events)})
    return events
