from django.conf import settings

from kapstone.accounts.roles import Role


def role(request):
    user = getattr(request, "user", None)
    return {
        "Role": Role,
        "current_role": getattr(user, "role", None) if user and user.is_authenticated else None,
        # The idle sign-out warning (site.js) counts down from the session's idle lifetime.
        "session_idle_seconds": settings.SESSION_COOKIE_AGE,
    }
