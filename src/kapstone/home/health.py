"""What /healthz checks: the database, and Redis when the practice runs one (the broker every reminder, page and
escalation goes through, and the shared cache). An answer names only the kind of failure: an address or an error's
text could tell a visitor where the practice's servers are."""

import functools

import redis
from django.conf import settings
from django.db import connection

OK = "ok"
# Operational: a monitor asks every few seconds, so a Redis that has not answered within a second is reported down
# rather than holding the check (and the monitor) for redis-py's default of no timeout at all.
REDIS_TIMEOUT_SECONDS = 1.0


def _failed(error: Exception) -> str:
    return f"error: {error.__class__.__name__}"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - the health check reports any failure rather than raising
        return _failed(error)
    return OK


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    # One pool a process, so a check reuses its connection instead of opening one each time it is asked.
    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)


def redis_state() -> str:
    try:
        _redis_client(settings.REDIS_URL).ping()
    except Exception as error:  # noqa: BLE001 - the health check reports any failure rather than raising
        return _failed(error)
    return OK


def states() -> dict[str, str]:
    """Each part's state, "ok" or "error: <kind>"; Redis only where REDIS_URL names one (without it tasks run in
    the web process and there is nothing more to reach)."""
    checked = {"database": database_state()}
    if settings.REDIS_URL:
        checked["redis"] = redis_state()
    return checked
