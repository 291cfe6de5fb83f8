import ipaddress

from django.conf import settings

from kapstone.audit import context
from kapstone.audit import services as audit


def client_ip(request) -> str:
    """The address of whoever sent the request: what the audit trail, an e-signature and the sign-in limits record
    (django-axes reads it too, settings.AXES_CLIENT_IP_CALLABLE). Behind the practice's reverse proxy every request
    arrives from the proxy, so REMOTE_ADDR was the proxy's for everyone: one person's failed sign-ins counted against
    every address's limit, and locked the whole practice out of signing in. There the address is the one the
    trusted proxies appended to X-Forwarded-For, counted from its right (settings.TRUSTED_PROXY_COUNT); whatever
    the client wrote to the left of them is never read. Without a proxy the header is the client's and is ignored."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops:
            try:
                return str(ipaddress.ip_address(forwarded[-hops]))[:45]
            except ValueError:
                pass  # not written by a proxy: the connection's own address
    return request.META.get("REMOTE_ADDR", "")[:45]


class AuditContextMiddleware:
    """Who is acting, for every record the request writes; and the request's reads written in one short transaction
    before the response leaves (audit.services explains why). A failure to write them raises, so the client gets
    a 500 instead of data whose read went unrecorded."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = context.ActorContext(user.pk, user.get_username(), client_ip(request))
        else:
            actor = context.ActorContext(None, "anonymous", client_ip(request))
        token = context.set_current(actor)
        try:
            with audit.reads_written_before_response():
                return self.get_response(request)
        finally:
            context.reset(token)
