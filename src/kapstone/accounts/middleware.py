"""Denied access lands in the audit trail: a 404 from a care-team filter (or any refusal) for a signed-in person."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

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
