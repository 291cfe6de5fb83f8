from kapstone.audit import context
from kapstone.audit import services as audit


def client_ip(request) -> str:
    # REMOTE_ADDR only: a forwarded-for header is set by the client unless a trusted proxy rewrites it.
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
