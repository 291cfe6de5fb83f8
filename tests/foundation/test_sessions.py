"""The idle sign-out: every request pushes the session's expiry forward, and on PostgreSQL that push alone commits
without waiting for the disk (kapstone.accounts.sessions), while everything else about the session commits as
before."""

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapstone.accounts.sessions.db import EXPIRY_PUSH_SLACK
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def session_expiry_pushes_held():
    """This module tests the push itself, so the push keeps its real slack here (tests/conftest.py holds it
    elsewhere)."""


def expiry_of(client) -> datetime.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def age(client, *, by: datetime.timedelta = datetime.timedelta(minutes=1)) -> None:
    """Moves the session's expiry back, as time passing would."""
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE) - by
    )


def session_writes(queries) -> list[str]:
    return [query["sql"] for query in queries if "django_session" in query["sql"] and "UPDATE" in query["sql"]]


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_a_request_pushes_the_idle_expiry_forward_and_keeps_what_the_session_holds(cast):
    client = signed_in_client(cast.bob)
    held = dict(client.session.items())
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=1)
    )
    before = timezone.now()
    assert client.get("/home/").status_code == 200
    expiry = expiry_of(client)
    assert before + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE - 5) <= expiry
    assert expiry <= timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert dict(client.session.items()) == held


def test_a_session_past_its_expiry_is_not_brought_back(cast):
    client = signed_in_client(cast.bob)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.get("/home/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_on_postgresql_the_unwaited_commit_ends_with_the_expiry_push(cast):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no asynchronous commit; its sessions are saved as Django saves them")
    client = signed_in_client(cast.bob)
    age(client)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/home/").status_code == 200
    pushes = session_writes(queries)
    assert len(pushes) == 1 and "synchronous_commit" in pushes[0]
    # Every later commit on this connection still waits for the disk.
    assert synchronous_commit() == "on"


def test_on_postgresql_a_session_whose_contents_change_commits_as_before(cast):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no asynchronous commit")
    client = signed_in_client(cast.bob)
    with CaptureQueriesContext(connection) as queries:
        client.post("/accounts/logout/")
    assert not [query["sql"] for query in queries if "synchronous_commit" in query["sql"]]


def test_signing_out_ends_the_session_at_once(cast):
    client = signed_in_client(cast.bob)
    key = client.session.session_key
    assert client.get("/home/").status_code == 200
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/home/").status_code == 302


def test_on_postgresql_the_cached_store_moves_its_cached_copy_on_with_the_row(cast, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no asynchronous commit")
    settings.SESSION_ENGINE = "kapstone.accounts.sessions.cached_db"
    client = signed_in_client(cast.bob)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=1)
    )
    assert client.get("/home/").status_code == 200
    assert expiry_of(client) > timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE - 5)
    # The cached copy still signs bob in on the next page.
    assert client.get("/home/").status_code == 200


@pytest.mark.parametrize("engine", ["kapstone.accounts.sessions.db", "kapstone.accounts.sessions.cached_db"])
def test_a_request_reads_its_session_row_in_one_statement_and_an_unknown_key_reads_as_no_session(
    cast, settings, engine
):
    settings.SESSION_ENGINE = engine
    client = signed_in_client(cast.bob)
    cache.clear()  # the cached store reads the row when its copy is missing
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/home/").status_code == 200
    reads = [
        query["sql"] for query in queries if "django_session" in query["sql"] and query["sql"].startswith("SELECT")
    ]
    assert len(reads) == 1
    if connection.vendor == "postgresql":
        assert reads[0].startswith('SELECT session_data, expire_date FROM "django_session"')
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    cache.clear()
    response = client.get("/home/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("engine", ["kapstone.accounts.sessions.db", "kapstone.accounts.sessions.cached_db"])
def test_a_request_just_after_a_push_writes_nothing_and_staying_signed_in_always_pushes(cast, settings, engine):
    settings.SESSION_ENGINE = engine
    client = signed_in_client(cast.bob)
    cache.clear()  # the cached store knows the expiry only from the row
    age(client, by=EXPIRY_PUSH_SLACK / 2)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/home/").status_code == 200
    assert session_writes(queries) == []
    # Past the slack the expiry moves on again.
    age(client, by=EXPIRY_PUSH_SLACK * 2)
    cache.clear()
    assert client.get("/home/").status_code == 200
    assert (
        expiry_of(client) > timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE) - EXPIRY_PUSH_SLACK
    )
    # "Stay signed in" restarts the idle clock in full however recent the last push.
    age(client, by=EXPIRY_PUSH_SLACK / 2)
    before = timezone.now()
    assert client.post("/accounts/keep-alive/").status_code == 200
    assert expiry_of(client) >= before + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
