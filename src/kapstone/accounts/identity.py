"""Confirming who is at the keyboard before a change that hands out access or data ("sudo mode", as healthchecks
and GitHub ask it): adding or locking out staff, resetting a second factor, adding or removing a passkey, changing a
practice setting, taking a research export. A session left open on a shared desktop or a borrowed tablet must not do
these for whoever finds it, so they need the password typed within the last CONFIRM_IDENTITY_MINUTES: at sign-in,
or again on the confirm page.
"""

import time
from functools import wraps
from urllib.parse import urlsplit

from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from kapstone.accounts import services
from kapstone.untrusted import same_site_address

CONFIRMED_AT = "kapstone_identity_confirmed_at"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def mark_confirmed(request) -> None:
    """The password was just typed (sign-in, or the confirm page)."""
    request.session[CONFIRMED_AT] = time.time()


def mark_confirmed_at_sign_in(sender, request, user, **kwargs) -> None:
    # user_logged_in: every sign-in, whichever way (password, then a code or a passkey), types the password.
    if request is not None and hasattr(request, "session"):
        mark_confirmed(request)


def minutes_in_words() -> str:
    minutes = settings.CONFIRM_IDENTITY_MINUTES
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def recently_confirmed(request) -> bool:
    confirmed_at = request.session.get(CONFIRMED_AT)
    if not isinstance(confirmed_at, (int, float)):
        return False
    return 0 <= time.time() - confirmed_at <= settings.CONFIRM_IDENTITY_MINUTES * 60


def _confirm_first(request, *, what: str):
    """To the confirm page, and back afterwards: to the page itself, or, for a change that was posted, to the page it
    was posted from (the change is made again from there: a posted form is not replayed unseen)."""
    if request.method in UNSAFE_METHODS:
        referer = urlsplit(same_site_address(request, request.headers.get("referer")))
        back = (referer.path + (f"?{referer.query}" if referer.query else "")) or reverse("root")
    else:
        back = request.get_full_path()
    again = " You are then brought back to do it." if request.method in UNSAFE_METHODS else ""
    messages.info(
        request,
        f"To {what}, confirm it is you: your password was last typed more than {minutes_in_words()} ago.{again}",
    )
    return redirect(f"{reverse('accounts:confirm_identity')}?{urlencode({'next': back})}")


def identity_confirmed(what: str, *, changes_only: bool = False):
    """A view that needs the password typed recently; `what` says what for ("change staff logins"). With
    `changes_only` the page itself may be read and only what is posted to it needs it. Goes inside roles_required,
    which decides first who may use the view at all."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if (not changes_only or request.method in UNSAFE_METHODS) and not recently_confirmed(request):
                return _confirm_first(request, what=what)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def locked_out_signed_out(request):
    """The signed-in person's own password, typed again wrong (on the confirm page, or as the old password of a
    change), reached the login's lockout: the login is locked, so this session ends with it, audited, and the lockout
    page answers."""
    username = request.user.get_username()
    services.sign_out_record(user=request.user, locked_out=True)
    auth_logout(request)
    return get_lockout_response(request, credentials={"username": username})
