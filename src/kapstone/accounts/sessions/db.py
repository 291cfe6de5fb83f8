"""The database session store, pushing the idle expiry forward without waiting for the disk (see the package)."""

from django.contrib.sessions.backends import db
from django.db import connections, router, transaction


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        if must_create or self.modified or self.session_key is None or connections[using].vendor != "postgresql":
            super().save(must_create=must_create)
            return
        with transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                # LOCAL: it ends with this transaction, so no later commit on the connection is affected.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            super().save(must_create=False)
