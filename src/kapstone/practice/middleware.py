import logging

from django.conf import settings
from django.db import DataError
from django.http import HttpResponseNotAllowed, QueryDict
from django.shortcuts import render

from kapstone.audit.url_secrets import path_without_secrets
from kapstone.untrusted import DIRECTION_CONTROLS, without_direction_controls

logger = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    """Sends the Content-Security-Policy header: only our own scripts, styles and images load. And keeps every page
    out of the browser's and any proxy's cache (Cache-Control: private, no-store) unless the view said otherwise: a
    record, a journal or a message left in a shared computer's disk cache is shown again by the Back button after
    its reader signed out. The static files are answered before this (WhiteNoise) and stay cacheable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cache-Control", "private, no-store")
        return response


class FormMethodsMiddleware:
    """Answers 405 to any method but GET, HEAD and POST, before a view sees it: Kapstone's pages and scripts send no
    other, and a view that tells a change from a read by "is it a POST?" read a PUT, DELETE or TRACE as a GET (the
    page drawn, and where opening a page closes a task past its time, the task closed), while what a form's POST
    checks (the unstorable-input net above all) never read a PUT's body."""

    ALLOWED = ("GET", "HEAD", "POST")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in self.ALLOWED:
            logger.warning("Refused method %s on %s", request.method, path_without_secrets(request))
            return HttpResponseNotAllowed(self.ALLOWED)
        return self.get_response(request)


class UnstorableInputMiddleware:
    """Answers 400, never 500, to input no form of Kapstone's can hold: a NUL character (PostgreSQL refuses it in
    text) anywhere in the query or the form (a name or any of its values), or a number or date beyond what the
    database or Python can store (an id of 10^23 overflows SQLite's integer; year 9999 plus a session's length
    overflows a datetime).

    Forms validate what they expect; this is the net under every one of them, so a value no form thought to
    bound is refused with a message instead of crashing the page. The failed statement rolls back its
    transaction, so nothing is left half-written.

    The controls that reorder shown text (untrusted.DIRECTION_CONTROLS) are dropped here, from every name and value
    of the query and the form, before any view or form reads them: one place for every text field, as for the NUL.
    Dropped rather than refused: phones wrap a copied name or number in isolates, and refusing what the person
    cannot see would leave them nothing to fix.
    """

    MESSAGE = (
        "Something in what you sent cannot be stored: a number or date far out of range, or a hidden control "
        "character. Go back, check the form and try again."
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def _refuse(self, request):
        logger.warning("Refused unstorable input on %s %s", request.method, path_without_secrets(request))
        return render(request, "400.html", {"message": self.MESSAGE}, status=400)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Every value of every name, and the names: values() gives only a name's last value, so a NUL sent as the
        # first of two values of one name passed the net.
        sent = [*request.GET.lists(), *(request.POST.lists() if request.method == "POST" else ())]
        if any("\x00" in name or any("\x00" in value for value in values) for name, values in sent):
            return self._refuse(request)
        request.GET = _without_direction_controls(request.GET)
        if request.method == "POST":
            request.POST = _without_direction_controls(request.POST)
        return None

    def process_exception(self, request, exception):
        if isinstance(exception, OverflowError | DataError):
            return self._refuse(request)
        return None


def _without_direction_controls(sent: QueryDict) -> QueryDict:
    """`sent` itself when no name or value holds a direction control (the usual case, so nothing is copied); else a
    copy without them, as immutable as Django's own."""
    lists = list(sent.lists())
    if not any(DIRECTION_CONTROLS.search(text) for name, values in lists for text in (name, *values)):
        return sent
    cleaned = QueryDict(mutable=True, encoding=sent.encoding)
    for name, values in lists:
        cleaned.setlist(without_direction_controls(name), [without_direction_controls(value) for value in values])
    cleaned._mutable = False
    return cleaned
