"""The database session store, pushing the idle expiry forward without waiting for the disk (see the package)."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.db import connections, router, transaction
from django.utils import timezone


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        if must_create or self.modified or self.session_key is None or connections[using].vendor != "postgresql":
            super().save(must_create=must_create)
        else:
            self._push_expiry(using)

    def _push_expiry(self, using: str) -> None:
        """Moves the row's expiry on, leaving its contents as stored (unchanged by this request, and perhaps changed
        by another since). A row that has expired or gone is not brought back: the request ends as Django's own
        store ends it (UpdateError, which the session middleware answers)."""
        with transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                # LOCAL: it ends with this transaction, so no later commit on the connection is affected.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            pushed = (
                self.model.objects.using(using)
                .filter(session_key=self.session_key, expire_date__gt=timezone.now())
                .update(expire_date=self.get_expiry_date())
            )
        if not pushed:
            raise UpdateError
