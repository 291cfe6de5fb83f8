"""Links whose address is the credential, kept out of what is written down about a request. Imports no model:
the logging configuration loads it before the apps."""

import copy
import logging

# The URL argument that is itself the credential (an emailed password link, a questionnaire link, a calendar feed):
# whoever reads it can use it, so no log line or audit row keeps it.
CREDENTIAL_ARGUMENT = "token"
WRITTEN_AS = "[secret]"


def path_without_secrets(request) -> str:
    """The request's path, with the secret its URL carries (CREDENTIAL_ARGUMENT) written as WRITTEN_AS."""
    match = getattr(request, "resolver_match", None)
    secret = match.kwargs.get(CREDENTIAL_ARGUMENT) if match is not None else None
    return request.path.replace(secret, WRITTEN_AS) if isinstance(secret, str) and secret else request.path


class WithoutUrlSecrets(logging.Filter):
    """On the django.request logger (settings.LOGGING): its lines name the path of every request answered 4xx or
    5xx, and a password link's page is answered 400 when the chosen password is refused, while the link still
    works. The line keeps the path with the secret written as WRITTEN_AS."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            shown = path_without_secrets(request)
            if shown != request.path:
                record.msg = record.getMessage().replace(request.path, shown)
                record.args = ()
                record.request = _request_without_secrets(request)
        return True


def _request_without_secrets(request):
    """A shallow copy of the request whose path and environ carry the secret written as WRITTEN_AS: a handler that
    reports the record's request (an error mail, an error tracker, a structured formatter) writes its address."""
    secret = request.resolver_match.kwargs[CREDENTIAL_ARGUMENT]
    shown = copy.copy(request)
    shown.path = request.path.replace(secret, WRITTEN_AS)
    shown.path_info = request.path_info.replace(secret, WRITTEN_AS)
    shown.META = {
        key: value.replace(secret, WRITTEN_AS) if isinstance(value, str) else value
        for key, value in request.META.items()
    }
    return shown
