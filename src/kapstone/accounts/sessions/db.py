"""The database session store, pushing the idle expiry forward without waiting for the disk (see the package), and
taking a cookie no store could have made for no session."""

import datetime
from typing import TYPE_CHECKING

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.db import connections, router
from django.utils import timezone

if TYPE_CHECKING:
    # Only for the annotation: Django's store imports the model late, once the apps are loaded.
    from django.contrib.sessions.base_session import AbstractBaseSession

# One statement, committed on its own: set_config(..., true) holds for that statement's transaction only, so no
# other commit on the connection is affected. (As BEGIN, SET LOCAL, UPDATE and COMMIT it was four round trips.)
_PUSH_EXPIRY = """
    WITH unwaited AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE {table} SET expire_date = %s FROM unwaited WHERE session_key = %s AND expire_date > %s
"""

# The row a request's session is read from, as Django's store reads it (a key, not yet expired), in a statement
# written once: building the same ORM query on every request cost more than the database's answer (issue 19).
_LOAD = "SELECT session_data, expire_date FROM {table} WHERE session_key = %s AND expire_date > %s"

KEY_CHARS = frozenset(VALID_KEY_CHARS)

# A request that finds the session's expiry already within this of where it would push it writes nothing: a page
# that loads its parts, or a clinician moving quickly between pages, wrote the same row on every request (issue 19).
# The session then ends at most this much before the idle limit, never after it; the idle warning counts down from
# the limit less this (kapstone.accounts.context_processors), so it never promises time the server will not give.
EXPIRY_PUSH_SLACK = datetime.timedelta(seconds=10)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        """Only a key a session store makes (letters and digits, no longer than the column) names a session; any
        other cookie is no session, as an unknown key is. Django checks a key's length alone, so a cookie spelling a
        NUL (a quoted cookie value may, as \\000) reached the database, and PostgreSQL's driver raised on every page."""
        if not key:
            return False
        longest = self.model._meta.get_field("session_key").max_length or 0
        return 8 <= len(key) <= longest and KEY_CHARS.issuperset(key)

    # Django's stores (this one's load, and cached_db's on a cache miss) read the row here.
    def _get_session_from_db(self) -> "AbstractBaseSession | None":
        """The live row for the key, or None (and no key) as in Django's store. On PostgreSQL the statement is
        Kapstone's own; elsewhere the row is Django's ORM read, which also converts the column types."""
        connection = connections[router.db_for_read(self.model)]
        key = self.session_key
        if connection.vendor != "postgresql" or key is None:
            found = super()._get_session_from_db()  # type: ignore[misc]  # Django's, which the stubs do not declare
            self._stored_expiry = found.expire_date if found is not None else None
            return found
        with connection.cursor() as cursor:
            cursor.execute(
                _LOAD.format(table=connection.ops.quote_name(self.model._meta.db_table)), [key, timezone.now()]
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        session_data, expire_date = row
        self._stored_expiry = expire_date
        return self.model(session_key=key, session_data=session_data, expire_date=expire_date)

    def _expiry_is_recent(self) -> bool:
        """Whether the expiry this request read from the row is within EXPIRY_PUSH_SLACK of where a push would move
        it. A store that answered from its cache read no expiry, and pushes as before."""
        stored = getattr(self, "_stored_expiry", None)
        return stored is not None and stored >= self.get_expiry_date() - EXPIRY_PUSH_SLACK

    def save(self, must_create: bool = False) -> None:
        if not (must_create or self.modified or self.session_key is None) and self._expiry_is_recent():
            return
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
