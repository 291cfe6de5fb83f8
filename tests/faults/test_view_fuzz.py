"""Hostile input to every view that takes a POST, in every app: each form Kapstone draws is sent back as a browser
would send it, with some of its fields replaced by what a person (or a script) might type, dropped, or joined by
fields it does not have. Whatever is sent, the view answers with a page, never a server error, and a refusal
(4xx) writes nothing but the audit trail, the session and the sign-in failure log.

The forms are found by drawing every page the permission matrix lists for every role it lets through, so a new
form is fuzzed as soon as its page is declared there. Every POST-only view is fuzzed too at the URL the matrix
builds, with every field name any form has, whether or not a page draws its form. tests/faults/test_form_fuzz.py
fuzzes the form classes alone.
"""

import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import signed_in_client
from tests.faults.test_form_fuzz import VALUES, every_form, every_formset
from tests.test_mixed_ids import UNWATCHED_TABLE_PREFIXES
from tests.test_permission_matrix import ROUTES

# Spoilt posts a form: every form of every page for every role is one test, the longest of the suite (2.6 minutes
# at ten), so the suite sends four, the same ones each run; `make fuzz` (the "explore" profile) sends thirty new ones.
EXAMPLES = settings(
    max_examples=30 if os.environ.get("KAPSTONE_HYPOTHESIS_PROFILE") == "explore" else 4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

# Files a form may be sent: none, empty, not what their name says, a name that climbs out of a folder.
FILES = st.one_of(
    st.builds(
        SimpleUploadedFile,
        st.sampled_from(["a.png", "a.pdf", "../../../etc/passwd", "a.png.exe", "\x00.png", "x" * 300 + ".jpg"]),
        st.one_of(st.just(b""), st.binary(max_size=300), st.just(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)),
        st.sampled_from(["image/png", "application/pdf", "text/html", "application/octet-stream"]),
    ),
)
# Fields no form draws, as a script adds them (mass assignment: tests/test_mass_assignment.py says what they do).
EXTRA_NAMES = ["id", "pk", "patient", "patient_id", "user", "role", "is_staff", "is_superuser", "care_team", "next"]


@dataclass
class DrawnForm:
    role: str  # "anonymous" for a page seen before signing in
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


class _FormReader(HTMLParser):
    """The POST forms of a page, with the values a browser sends for each field untouched."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[tuple[str, dict[str, list[str]], set[str]]] = []
        self._form: tuple[str, dict[str, list[str]], set[str]] | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = None
            if a.get("method", "get").lower() == "post":
                self._form = (a.get("action") or self.page_url, {}, set())
                self.forms.append(self._form)
            return
        if self._form is None or not a.get("name") or "disabled" in a:
            return
        _, fields, files = self._form
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                files.add(name)
            elif kind in ("checkbox", "radio"):
                fields.setdefault(name, [])
                if "checked" in a:
                    fields[name].append(a.get("value", "on"))
            elif kind not in ("submit", "button", "image", "reset"):
                fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select":
            self._select, self._first_option, self._chosen = name, None, False
            fields.setdefault(name, [])
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                fields[self._select].append(value)
                self._chosen = True
        elif tag == "textarea":
            self._textarea = name
            fields.setdefault(name, [""])
        elif tag == "button" and a.get("value"):
            fields.setdefault(name, [a["value"]])

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form[1][self._textarea] = [data]

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            if not self._chosen and self._first_option is not None:
                self._form[1][self._select].append(self._first_option)
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _built(name: str, cast) -> dict | None:
    """The route's arguments, built beside the rows already made; None where they clash (the permission matrix
    builds each route's alone): asserted below that every POST view is still fuzzed."""
    try:
        with transaction.atomic():
            return ROUTES[name].kwargs(cast)
    except Exception:  # noqa: BLE001  # any clash of two routes' rows, whatever it raises
        return None


def _view_name(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).view_name
    except Resolver404:
        return None


def _drawn_forms(cast) -> dict[str, list[DrawnForm]]:
    """Each view name with the forms that post to it, from every page every role the matrix allows may open."""
    found: dict[str, list[DrawnForm]] = {}
    clients: dict[str, Client] = {"anonymous": Client()}
    for name, route in sorted(ROUTES.items()):
        if route.method != "get":
            continue
        kwargs = _built(name, cast)
        if kwargs is None:
            continue
        url = reverse(name, kwargs=kwargs)
        for role in ["anonymous"] if route.public else sorted(route.allow):
            if role not in clients:
                clients[role] = signed_in_client(cast.user(role))
            client = clients[role]
            response = client.get(url)
            if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
                continue
            reader = _FormReader(url)
            reader.feed(response.content.decode())
            for action, fields, files in reader.forms:
                view = _view_name(action)
                if view is None or view == "accounts:logout" and found.get(view):
                    continue
                drawn = found.setdefault(view, [])
                # One form a role for each view is enough: the staff and the patient pages of one view differ.
                if not any(other.role == role for other in drawn):
                    drawn.append(DrawnForm(role, action, fields, files))
    return found


def _every_field_name() -> list[str]:
    names = set(EXTRA_NAMES)
    for form_class in every_form():
        names |= set(form_class.base_fields)
    for _, formset in every_formset():
        names |= set(formset.form.base_fields)
    return sorted(names)


def _hostile_post(drawn: DrawnForm, pool: list[str]):
    """What the browser would send, with some fields changed, some dropped, and some added."""
    names = sorted(drawn.fields) or pool
    return st.tuples(
        st.dictionaries(st.sampled_from(names), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=6),
        st.sets(st.sampled_from(names), max_size=3),
        st.dictionaries(st.sampled_from(pool), VALUES, max_size=2),
        st.dictionaries(st.sampled_from(sorted(drawn.files)), FILES, max_size=1) if drawn.files else st.just({}),
    ).map(
        lambda parts: {
            **{name: values for name, values in drawn.fields.items() if name not in parts[1]},
            **parts[2],
            **parts[0],
            **parts[3],
        }
    )


class _RolledBack(Exception):
    """Each view's fuzz is rolled back, so one view's writes (a sign-out, a deactivation) do not reach the next."""


# The statements that write a row, and the table they write: what Django's SQLite and PostgreSQL backends send.
WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@functools.cache
def _watched_tables() -> dict[str, type]:
    """Every table but those a refused request may still write (tests.test_mixed_ids.UNWATCHED_TABLE_PREFIXES)."""
    return {
        model._meta.db_table: model
        for model in apps.get_models()
        if not model._meta.db_table.startswith(UNWATCHED_TABLE_PREFIXES)
    }


def _table_digest(table: str) -> str:
    model = _watched_tables()[table]
    return hashlib.sha256(repr(list(model._base_manager.order_by("pk").values_list())).encode()).hexdigest()


def _fuzz(target: Callable[[], DrawnForm | None], cast, pool: list[str]) -> list[str] | None:
    """The problems the target's fuzz found, or None when its URL could not be built beside the crawl's rows."""
    problems: list[str] = []
    try:
        with transaction.atomic():
            drawn = target()
            if drawn is None:
                return None
            _fuzz_one(drawn, cast, pool, problems)
            raise _RolledBack
    except _RolledBack:
        pass
    return problems


def _fuzz_one(drawn: DrawnForm, cast, pool: list[str], problems: list[str]) -> None:
    client = Client() if drawn.role == "anonymous" else signed_in_client(cast.user(drawn.role))
    client.raise_request_exception = False
    if not drawn.fields and client.post(drawn.action).status_code == 405:
        return  # a page only read: it takes no POST
    digests = {table: _table_digest(table) for table in _watched_tables()}

    @EXAMPLES
    @given(_hostile_post(drawn, pool))
    def answers(data):
        for upload in data.values():
            if isinstance(upload, SimpleUploadedFile):
                upload.seek(0)
        # The log holds the last 9,000 statements: once full, a capture's slice of it came back empty.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(drawn.action, data)
        # Only the tables the request wrote to are read again: reading every table around every request made the
        # fuzz of every view take a quarter of an hour.
        written = {match[1] for query in queries for match in [WRITE.match(query["sql"])] if match}
        changed = sorted(table for table in written & digests.keys() if _table_digest(table) != digests[table])
        digests.update({table: _table_digest(table) for table in changed})
        if response.status_code >= 500:
            problems.append(f"{drawn.role} {drawn.action}: {response.status_code} for {data!r}")
        elif response.status_code >= 400 and response.status_code != 405 and changed:
            problems.append(f"{drawn.role} {drawn.action}: {response.status_code} but wrote {changed} for {data!r}")

    answers()


def _undrawn(name: str, cast) -> DrawnForm | None:
    """A view no page draws a form for, at the URL the matrix builds (None where its rows clash with the crawl's)."""
    route = ROUTES[name]
    kwargs = _built(name, cast)
    if kwargs is None:
        return None
    return DrawnForm("anonymous" if route.public else sorted(route.allow)[0], reverse(name, kwargs=kwargs))


def test_no_hostile_post_to_any_view_is_a_server_error_or_a_partial_write(cast):
    pool = _every_field_name()
    problems: list[str] = []
    fuzzed = set()
    # First each POST-only view at the URL the matrix builds, its rows made and rolled back alone: some clash with
    # rows other routes make (a creativity task is never due on a dosing day), and some views' forms no page draws
    # (a script's JSON endpoint).
    post_views = sorted(name for name, route in ROUTES.items() if route.method == "post")
    for name in post_views:
        found = _fuzz(partial(_undrawn, name, cast), cast, pool)
        if found is not None:
            problems += found
            fuzzed.add(name)
    # Then every form a page draws, sent back as drawn and then spoilt, at the page's own URLs.
    drawn = _drawn_forms(cast)
    for name in sorted(drawn):
        for form in drawn[name]:
            problems += _fuzz(lambda form=form: form, cast, pool) or []
            fuzzed.add(name)
    assert problems == [], "\n".join(problems[:40])
    assert set(post_views) <= fuzzed, set(post_views) - fuzzed
    assert {"screening:intake", "screening:portal_pre_intake", "accounts:staff"} <= drawn.keys()
