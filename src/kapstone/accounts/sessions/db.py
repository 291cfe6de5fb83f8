"""The database session store, pushing the idle expiry forward without waiting for the disk (see the package), and
taking a cookie no store could have made for no session."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.db import connections, router
from django.utils import timezone

# One statement, committed on its own: set_config(..., true) holds for that statement's transaction only, so no
# other commit on the connection is affected. (As BEGIN, SET LOCAL, UPDATE and COMMIT it was four round trips.)
_PUSH_EXPIRY = """
    WITH unwaited AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE {table} SET expire_date = %s FROM unwaited WHERE session_key = %s AND expire_date > %s
"""

KEY_CHARS = frozenset(VALID_KEY_CHARS)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        """Only a key a session store makes (letters and digits, no longer than the column) names a session; any
        other cookie is no session, as an unknown key is. Django checks a key's length alone, so a cookie spelling a
        NUL (a quoted cookie value may, as \\000) reached the database, and PostgreSQL's driver raised on every page."""
        if not key:
            return False
        longest = self.model._meta.get_field("session_key").max_length or 0
        return 8 <= len(key) <= longest and KEY_CHARS.issuperset(key)

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
