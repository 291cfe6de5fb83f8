import time

from kapstone.accounts import services


def record_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Django hands over the credentials with the password already masked; only the username is kept."""
    services.sign_in_failure_record(username=str(credentials.get("username") or ""))


# When the session was signed in (seconds since the epoch), for its absolute lifetime (middleware.SessionLifetime).
SIGNED_IN_AT = "kapstone_signed_in_at"


def note_sign_in_time(sender, request=None, user=None, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())
