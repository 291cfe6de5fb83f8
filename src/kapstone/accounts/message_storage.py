"""Where the one-time notes a page shows after a form are kept until shown (settings.MESSAGE_STORAGE)."""

from django.contrib.messages.storage.base import BaseStorage
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage


class SignedInSessionStorage(BaseStorage):
    """A note written while someone is signed in is kept in their session: such notes name patients ("Sent to
    Alice Abernathy."), and Django's default writes them into the browser's cookie jar, signed but readable. A note
    written for someone not signed in stays in a cookie, as Django keeps it: it names no one ("You are signed
    out."), and kept in a session it would make a session row for every visitor who asks for the page that says
    so. Notes are read from both, so one written as its reader signs out or in is still shown."""

    def __init__(self, request, *args, **kwargs):
        self.cookie = CookieStorage(request, *args, **kwargs)
        self.session = SessionStorage(request, *args, **kwargs)
        self._holding: set[BaseStorage] = set()
        super().__init__(request, *args, **kwargs)

    def _get(self, *args, **kwargs):
        messages = []
        for storage in (self.cookie, self.session):
            found, _ = storage._get()
            if found:
                self._holding.add(storage)
                messages.extend(found)
        return messages, True

    def _store(self, messages, response, *args, **kwargs):
        user = getattr(self.request, "user", None)
        keep, other = (
            (self.session, self.cookie) if user is not None and user.is_authenticated else (self.cookie, self.session)
        )
        unstored = keep._store(messages, response, remove_oldest=False) if messages or keep in self._holding else []
        if other in self._holding:
            other._store([], response)  # what it held was read with the rest
        self._holding.clear()
        return unstored
