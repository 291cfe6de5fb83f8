from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from kapstone.accounts.roles import Role
from kapstone.accounts.sessions.db import EXPIRY_PUSH_SLACK

# The addresses the header and footer of every page link to (base.html), by URL name.
HEADER_URL_NAMES = (
    "accounts:keep_alive",
    "accounts:logout",
    "accounts:password_change",
    "accounts:security",
    "accounts:staff",
    "accounts:two_factor",
    "billing:aging",
    "dosing:sessions",
    "healthz",
    "home:home",
    "integration:adherence",
    "integration:journal",
    "integration:my_timeline",
    "measures:alerts",
    "messaging:inbox",
    "messaging:my_threads",
    "outcomes:report",
    "outcomes:research_export",
    "patients:list",
    "portal:home",
    "practice:settings",
    "program:groups",
    "root",
    "screening:list",
)


def role(request):
    user = getattr(request, "user", None)
    return {
        "Role": Role,
        "current_role": getattr(user, "role", None) if user and user.is_authenticated else None,
        # The idle sign-out warning (site.js) counts down from the idle lifetime the session is sure of: a request may
        # leave an expiry pushed a moment ago where it is (kapstone.accounts.sessions.db.EXPIRY_PUSH_SLACK).
        "session_idle_seconds": settings.SESSION_COOKIE_AGE - int(EXPIRY_PUSH_SLACK.total_seconds()),
        "header_urls": header_urls(get_urlconf(), get_script_prefix()),
    }


@lru_cache(maxsize=8)
def header_urls(urlconf: str | None, script_prefix: str) -> dict[str, str]:
    """The header's addresses, keyed by URL name with '_' for ':' (header_urls.home_home): the same for every
    request under one URL configuration and script prefix, so they are reversed once for each rather than twenty
    times a page (issue 19). Both are arguments so that a request under another one gets its own addresses."""
    return {name.replace(":", "_"): reverse(name, urlconf=urlconf) for name in HEADER_URL_NAMES}
