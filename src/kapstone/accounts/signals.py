import time

from django.dispatch import Signal

# Sent inside the transaction that ended a login's credentials: its password changed or was set by a link, its second
# factors were reset, or it was deactivated. Whatever else lets the login in without signing in (a calendar
# subscription link) ends with them, so securing an account again secures all of it. kwargs: actor (the user who
# did it), user (whose credentials ended)
credentials_ended = Signal()


def record_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Django hands over the credentials with the password already masked; only the username is kept."""
    # deferred: services sends credentials_ended, defined here.
    from kapstone.accounts import services

    actor = getattr(request, "user", None)
    services.sign_in_failure_record(
        username=str(credentials.get("username") or ""),
        second_signature=request.META.get(services.SECOND_SIGNATURE_ROLE, "") if request is not None else "",
        recorded_by=actor.get_username() if actor is not None and actor.is_authenticated else "",
    )


# When the session was signed in (seconds since the epoch), for its absolute lifetime
# (middleware.SessionLifetimeMiddleware).
SIGNED_IN_AT = "kapstone_signed_in_at"


def note_sign_in_time(sender, request=None, user=None, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())
