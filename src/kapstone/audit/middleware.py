from kapstone.audit import context


def client_ip(request) -> str:
    # REMOTE_ADDR only: a forwarded-for header is set by the client unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "")[:45]


class AuditContextMiddleware:
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
            return self.get_response(request)
        finally:
            context.reset(token)
