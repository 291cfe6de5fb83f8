"""/healthz, as a monitor or a load balancer asks it: unhealthy (503) when the database or, where the practice runs
one, Redis cannot be reached or does not answer, naming only the kind of failure; a hung Redis does not hold it."""

import socket
import time

import pytest
from django.db import OperationalError, connection
from django.test import Client

from kapstone.home import health

# The Redis timeout is 1 s; generous, so a busy machine never fails it.
ANSWERED_WITHIN_SECONDS = 5


@pytest.fixture
def listening_socket_that_never_answers():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{probe.getsockname()[1]}/0"


class Answering:
    def ping(self) -> bool:
        return True


def test_without_redis_only_the_database_is_checked(db, settings):
    settings.REDIS_URL = ""
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


def test_with_redis_answering_both_are_ok(db, settings, monkeypatch):
    settings.REDIS_URL = "redis://redis.internal:6379/0"
    monkeypatch.setattr(health, "_redis_client", lambda url: Answering())
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_redis_down_is_unhealthy_without_naming_where_it_is(db, settings):
    settings.REDIS_URL = closed_port_url()
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "redis": "error: ConnectionError"}
    assert "127.0.0.1" not in response.content.decode()


def test_a_redis_that_never_answers_is_reported_down_within_its_timeout(
    db, settings, listening_socket_that_never_answers
):
    settings.REDIS_URL = listening_socket_that_never_answers
    started = time.monotonic()
    response = Client().get("/healthz")
    assert time.monotonic() - started < ANSWERED_WITHIN_SECONDS
    assert response.status_code == 503 and response.json()["redis"].startswith("error: ")


def test_the_database_down_is_unhealthy_without_its_message(db, monkeypatch):
    def refused(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    with monkeypatch.context() as patched:  # undone before the test database is torn down, which needs a cursor
        patched.setattr(connection, "cursor", refused)
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error: OperationalError"}
    assert "db.internal" not in response.content.decode() and "10.0.0.5" not in response.content.decode()
