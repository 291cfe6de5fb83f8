"""Denied access lands in the audit trail: a 404 from a care-team filter (or any refusal) for a signed-in person;
and a session ends at its absolute lifetime however busy it is kept."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import Http404

from kapstone.accounts import services
from kapstone.accounts.signals import SIGNED_IN_AT
from kapstone.audit import services as audit
from kapstone.audit.url_secrets import path_without_secrets


class DeniedAccessAuditMiddleware:
    """Records who was refused what. A selector answers 404 for a record outside the care team, so these are
    the attempts to open someone else's record (and, unavoidably, mistyped addresses of signed-in staff)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if isinstance(exception, Http404):
            outcome = "not_found"
        elif isinstance(exception, PermissionDenied):
            outcome = "forbidden"
        else:
            return None
        audit.record(
            action=audit.Action.READ,
            object_type="access_denied",
            detail={"path": path_without_secrets(request)[:300], "method": request.method, "outcome": outcome},
        )
        return None


class SessionLifetimeMiddleware:
    """Ends a signed-in session SESSION_ABSOLUTE_HOURS after its sign-in, however often it was used: the idle timeout
    alone let a session kept busy (a page left open on the idle warning's "Stay signed in", a copied cookie replayed
    every few minutes) live for ever. The person is signed out and meets the sign-in page, as after an idle end."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            signed_in_at = request.session.get(SIGNED_IN_AT)
            if signed_in_at is None:
                # Signed in before sessions kept the time: their lifetime starts now.
                request.session[SIGNED_IN_AT] = int(time.time())
            elif time.time() - signed_in_at > settings.SESSION_ABSOLUTE_HOURS * 3600:
                services.sign_out_record(user=user, ended="session lifetime")
                logout(request)
        return self.get_response(request)
