"""The database session store, pushing the idle expiry forward without waiting for the disk (see the package)."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.db import connections, router
from django.utils import timezone

# One statement, committed on its own: set_config(..., true) holds for that statement's transaction only, so no
# other commit on the connection is affected. (As BEGIN, SET LOCAL, UPDATE and COMMIT it was four round trips.)
_PUSH_EXPIRY = """
    WITH unwaited AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE {table} SET expire_date = %s FROM unwaited WHERE session_key = %s AND expire_date > %s
"""


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        connection = connections[using]
        if (
            must_create
            or self.modified
            or self.session_key is None
            or connection.vendor != "postgresql"
            # Inside a transaction the setting would last until that transaction's end.
            or connection.in_atomic_block
        ):
            super().save(must_create=must_create)
        else:
            self._push_expiry(using)

    def _push_expiry(self, using: str) -> None:
        """Moves the row's expiry on, leaving its contents as stored (unchanged by this request, and perhaps changed
        by another since). A row that has expired or gone is not brought back: the request ends as Django's own
        store ends it (UpdateError, which the session middleware answers)."""
        connection = connections[using]
        statement = _PUSH_EXPIRY.format(table=connection.ops.quote_name(self.model._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(statement, [self.get_expiry_date(), self.session_key, timezone.now()])
            pushed = cursor.rowcount
        if not pushed:
            raise UpdateError
