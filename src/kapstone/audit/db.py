"""SQLite's half of the append-only guard on the audit trail (migration 0005).

SQLite has no TRUNCATE: Django empties a SQLite database (`flush`, and the test runner after each transactional
test) with DELETE, which row triggers see. So the DELETE triggers ask a function this module registers on every
connection whether the database is being emptied as a whole, which only `flush` says (see the audit app's flush
command). That keeps SQLite level with PostgreSQL, where TRUNCATE empties the tables and a row DELETE is refused.
A connection without the function (the sqlite3 shell, another program) gets "no such function": still refused.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

EMPTYING_FUNCTION = "kapstone_emptying_database"

_emptying: ContextVar[bool] = ContextVar("kapstone_emptying_database", default=False)


@contextmanager
def emptying_database() -> Iterator[None]:
    """While inside, the audit tables may be emptied (by flush only)."""
    token = _emptying.set(True)
    try:
        yield
    finally:
        _emptying.reset(token)


def register_emptying_function(sender, connection, **kwargs) -> None:
    """connection_created receiver: gives each SQLite connection the function the DELETE triggers call."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(EMPTYING_FUNCTION, 0, lambda: int(_emptying.get()))
