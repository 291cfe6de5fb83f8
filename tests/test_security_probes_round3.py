"""Security probes, third round: query strings, methods, link secrets and bodies no page expects; every download
audited and named in Kapstone's own words; no page naming a patient outside the reader's care team; markup in every
text column; the second factor and emailed links; and who may hand out records by changing a group's facilitators.
tests/test_security_probes.py and tests/test_security_probes_round2.py hold the first two rounds."""

import re

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.creativity.services import CreativityError
from tests.conftest import signed_in_client
from tests.matrix import SIGNED_IN
from tests.probes import rolled_back, route_url, tables_written
from tests.test_permission_matrix import ROUTES
from tests.test_security_probes import WRITTEN_BY_READING, _markup_of

# --- query strings no link of Kapstone's writes -------------------------------------------------------------------

# Every name a view reads from a query string (request.GET and the filter forms it binds).
QUERY_NAMES = [
    "q", "page", "decision", "from", "format", "prompt", "find", "template", "lot", "older_than", "newer_than",
    "version", "next", "start", "end", "level", "staff", "kind", "show", "date_from", "date_to", "template_id",
    "facilitator_id", "indication", "site", "dosing_setting", "location", "since", "until", "action",
]  # fmt: skip
HOSTILE_QUERY_VALUES = [
    "\x00",
    "a\x00b",
    "9" * 40,
    "-1",
    "0",
    "²",
    "1e309",
    "\u202e1",
    "0001-01-01",
    "9999-12-31",
    "' OR 1=1 --",
    "x" * 20_000,
]


def _reader(route, cast) -> tuple[str, Client]:
    """The first role the route lets through, signed in, or a visitor when it lets through no one signed in (a
    calendar feed's secret address)."""
    role = min(route.allow, default="anonymous")
    client = Client() if role == "anonymous" else signed_in_client(cast.user(role))
    client.raise_request_exception = False
    return role, client


def test_no_query_string_makes_any_page_a_server_error_or_a_write(cast):
    """A link can carry anything after the "?": each page the matrix lists, asked by a role it lets through with
    every name any view reads set to a value no form of Kapstone's would send, answers with a page and writes nothing
    but what reading it writes."""
    failed = []
    for name, route in sorted(ROUTES.items()):
        if route.method != "get":
            continue
        with rolled_back():
            url = reverse(name, kwargs=route.kwargs(cast))
            role, client = _reader(route, cast)
            for value in HOSTILE_QUERY_VALUES:
                status = client.get(url, {key: value for key in QUERY_NAMES}).status_code
                if status >= 500:
                    failed.append((name, role, repr(value[:12]), status))
            # Bytes that are no UTF-8 (half a surrogate pair, a lone continuation byte), as a script sends them.
            for raw in ("%ED%A0%80", "%FF", "%C0%AF"):
                status = client.get(url + "?" + "&".join(f"{key}={raw}" for key in QUERY_NAMES)).status_code
                if status >= 500:
                    failed.append((name, role, raw, status))
            status = client.get(url, [(key, value) for key in QUERY_NAMES for value in ("1", "2")]).status_code
            if status >= 500:
                failed.append((name, role, "each name twice", status))
    assert failed == [], "\n".join(map(str, failed))


# --- methods no form sends ----------------------------------------------------------------------------------------

OTHER_METHODS = ("put", "patch", "delete", "options", "head", "trace")


def test_methods_no_form_sends_are_refused_without_a_server_error_or_a_write(cast):
    """A script can send PUT, PATCH, DELETE, OPTIONS, HEAD or TRACE to any address, with a form's body: none is a
    server error, and none writes a row (a PUT read as a POST would skip what the form's POST checks)."""
    failed = []
    for name, route in sorted(ROUTES.items()):
        with rolled_back():
            url = reverse(name, kwargs=route.kwargs(cast))
            role, client = _reader(route, cast)
            # The tables the requests wrote to, from their statements: reading every table before and after every
            # route took most of this test's time.
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as queries:
                for method in OTHER_METHODS:
                    body = "confirm=yes&action=issue&text=x&body=x"
                    status = client.generic(
                        method.upper(), url, body, content_type="application/x-www-form-urlencoded"
                    ).status_code
                    if status >= 500:
                        failed.append((name, role, method, status))
                    elif method != "head" and status != 405:
                        failed.append((name, role, method, f"answered {status}"))
            changed = tables_written(queries)
            # A calendar app's fetch of the feed (HEAD is a GET without the body) records when it was last used.
            reading = WRITTEN_BY_READING | {("program:feed", "program_calendarfeed")}
            if any((name, table) not in reading for table in changed):
                failed.append((name, role, "wrote", changed))
    assert failed == [], "\n".join(map(str, failed))


# --- every download in the audit trail ----------------------------------------------------------------------------


def test_every_download_of_patient_data_writes_an_audit_event(cast):
    """A file leaves with whatever it holds, so every download a role may take (a picture, an attachment, a PDF, a
    CSV, a calendar) writes an audit event, whether or not the file names anyone in words a test can find."""
    from kapstone.audit.models import AuditEvent
    from tests.integration_app.factories import journal_entry

    journal_entry(cast.alice, text="A drawing", shared=True)
    unrecorded, downloads = [], []
    for name, route in sorted(ROUTES.items()):
        if route.method != "get":
            continue
        with rolled_back():
            url = reverse(name, kwargs=route.kwargs(cast))
            for role in sorted(route.allow) or ["anonymous"]:
                client = Client() if role == "anonymous" else signed_in_client(cast.user(role))
                before = AuditEvent.objects.count()
                response = client.get(url)
                kind = response.get("Content-Type", "")
                if response.status_code != 200 or kind.startswith("text/html") or name == "healthz":
                    continue
                downloads.append(name)
                if AuditEvent.objects.count() == before:
                    unrecorded.append((name, role, kind))
                # The file's name is Kapstone's own words, never a name or text someone typed.
                disposition = response.get("Content-Disposition", "inline")
                if not re.fullmatch(r'inline|attachment; filename="?[A-Za-z0-9._-]+"?', disposition):
                    unrecorded.append((name, role, disposition))
    assert unrecorded == [], "\n".join(map(str, unrecorded))
    assert {"integration:journal_image", "messaging:attachment", "program:feed"} <= set(downloads)


# --- lists and pages of people outside the care team ----------------------------------------------------------------


def _alice_everywhere(cast) -> None:
    """Alice in every list a clinician reads: her group's dosing today, an open suicide-risk alert, a message thread,
    a shared journal entry, a questionnaire and a creativity task due, an integration session tomorrow."""
    from tests.creativity.factories import due_task
    from tests.integration_app.factories import given_dose, journal_entry
    from tests.measures.factories import due_assessment, open_alert
    from tests.messaging.factories import alice_thread, upcoming_session

    open_alert(cast.alice)
    due_task(cast.alice)
    given_dose(cast)
    upcoming_session(cast)
    alice_thread(cast)
    journal_entry(cast.alice, text="Felt lighter", shared=True)
    due_assessment(cast.alice, "gad7")


def test_no_page_names_a_patient_to_someone_outside_her_care_team(cast):
    """Charlie (a prescriber outside alice's care team), dana (another patient) and the researcher open every page
    the matrix lets them open: none names alice, by name, record number or email, in a page or a file."""
    _alice_everywhere(cast)
    identifiers = ("Abernathy", cast.alice.record_number, cast.alice.email)
    shown, skipped = [], []
    for name, route in sorted(ROUTES.items()):
        if route.method != "get" or route.public:
            continue
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                skipped.append(name)
                continue
            for role in sorted(route.allow & {"charlie", "dana_user", "researcher"}):
                response = signed_in_client(cast.user(role)).get(url)
                body = b"".join(response.streaming_content) if response.streaming else response.content
                text = body.decode(errors="replace")
                shown += [(name, role, found) for found in identifiers if found in text]
    assert shown == [], "\n".join(map(str, shown))
    assert len(skipped) < 5, skipped


# --- the second factor, asked again and again ---------------------------------------------------------------------


def test_typing_the_password_again_does_not_restart_the_count_of_wrong_codes(cast, settings):
    """Whoever holds a staff member's password can start the second step as often as they like: the wrong codes
    are counted across those starts, so guessing the six digits stops at the limit however it is spread."""
    from tests.foundation.test_login import current_code

    second_step = reverse("accounts:sign_in_second_step")
    client = Client()
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": "bob", "password": "correct-horse-battery"})
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            client.post(second_step, {"otp_token": "000000"})
    client.post(reverse("accounts:login"), {"username": "bob", "password": "correct-horse-battery"})
    client.post(second_step, {"otp_token": current_code(cast.bob)})
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("patients:list")).url.startswith(reverse("accounts:login"))


def test_a_staff_sign_in_through_the_second_step_stays_on_the_site(cast):
    from tests.foundation.test_login import current_code

    client = Client()
    client.post(
        reverse("accounts:login") + "?next=//evil.example/",
        {"username": "bob", "password": "correct-horse-battery", "next": "https://evil.example/"},
    )
    answer = client.post(reverse("accounts:sign_in_second_step"), {"otp_token": current_code(cast.bob)})
    assert answer.status_code == 302 and answer.url == reverse("home:home"), answer.url


# --- emailed links and the sessions they end ----------------------------------------------------------------------


def test_a_password_link_works_once_and_ends_every_session_the_person_had(cast):
    import datetime

    from kapstone.accounts.models import AccountLink
    from kapstone.accounts.services import account_link_create

    open_elsewhere = signed_in_client(cast.alice_user)
    assert open_elsewhere.get(reverse("portal:home")).status_code == 200
    token = account_link_create(
        user=cast.alice_user, purpose=AccountLink.Purpose.PASSWORD_RESET, lifetime=datetime.timedelta(hours=1)
    )
    url = reverse("accounts:set_password", args=[token])
    new = {"new_password1": "a-brand-new-long-passphrase", "new_password2": "a-brand-new-long-passphrase"}
    assert Client().post(url, new).status_code == 302
    again = Client().post(
        url, {"new_password1": "yet-another-passphrase-1", "new_password2": "yet-another-passphrase-1"}
    )
    assert again.status_code in (400, 404, 410) or (again.status_code == 302 and "set" not in again.url)
    cast.alice_user.refresh_from_db()
    assert cast.alice_user.check_password("a-brand-new-long-passphrase")
    answer = open_elsewhere.get(reverse("portal:home"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login"))


def test_an_admin_s_reset_of_two_factor_ends_the_staff_member_s_open_sessions(cast):
    from kapstone.accounts.identity import CONFIRMED_AT

    open_session = signed_in_client(cast.nurse)
    assert open_session.get(reverse("home:home")).status_code == 200
    admin = signed_in_client(cast.admin)
    session = admin.session
    session[CONFIRMED_AT] = __import__("time").time()
    session.save()
    answer = admin.post(reverse("accounts:staff_action", args=[cast.nurse.pk, "reset_two_factor"]), {"confirm": "yes"})
    assert answer.status_code == 302, answer.status_code
    answer = open_session.get(reverse("patients:detail", args=[cast.alice.pk]))
    assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login")), answer


# --- markup in every text column, not only the ones a test thought of ---------------------------------------------

MARK = "<q7>"
# Columns whose text is not typed by anyone: Kapstone's own rendered report, secrets' hashes, and what signing in
# reads (a changed password hash signs the cast out).
NOT_TYPED = {("outcomes", "reportsnapshot"), ("accounts", "user"), ("otp_totp", "totpdevice")}


def _mark_every_text_column() -> int:
    """Every free-text column (no choices, long enough for the mark) of every row made so far, typed as markup."""
    from django.apps import apps
    from django.db import models

    marked = 0
    for model in apps.get_models():
        meta = model._meta
        if (meta.app_label, meta.model_name) in NOT_TYPED or meta.db_table.startswith(
            ("audit_", "django_", "axes_", "auth_")
        ):
            continue
        fields = [
            field.name
            for field in meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField)
            and not field.choices
            and not field.unique
            and (field.max_length or 100) >= len(MARK) + 1
        ]
        if fields:
            try:
                with transaction.atomic():
                    marked += model._base_manager.update(**{name: f"x{MARK}" for name in fields}) * len(fields)
            except IntegrityError:  # a table its trigger keeps as written (the controlled-substance ledger)
                continue
    return marked


def test_markup_typed_into_any_text_column_is_escaped_on_every_page(cast):
    """The first round typed markup into a patient's name, diagnosis, journal and messages. Here every free-text
    column of every row the matrix's pages are built from holds it: a room, a group, a lot number, a note, an
    adverse event, a site, an outside clinician, a charge. No page or SVG shows it as markup."""
    from tests.creativity.factories import due_task

    due_task(cast.alice)
    _alice_everywhere(cast)
    urls = {}
    for name, route in sorted(ROUTES.items()):
        if route.method != "get" or route.public:
            continue
        try:
            with transaction.atomic():
                urls[name] = reverse(name, kwargs=route.kwargs(cast))
        except (ObjectDoesNotExist, CreativityError):
            continue
    clients = {role: signed_in_client(cast.user(role)) for role in SIGNED_IN}
    assert _mark_every_text_column() > 100
    raw, asked = [], 0
    for name, url in sorted(urls.items()):
        for role in sorted(ROUTES[name].allow):
            client = clients[role]
            client.raise_request_exception = False
            page = _markup_of(client.get(url))
            asked += bool(page)
            if MARK in page:
                raw.append((name, role, page[max(0, page.index(MARK) - 120) : page.index(MARK) + 20]))
    assert raw == [], "\n".join(map(str, raw))
    assert asked > 100, asked


# --- a group of patients of two care teams --------------------------------------------------------------------------


def _mixed_group_session(cast):
    """The Tuesday group's dosing session (bob and the therapist facilitate it) with dana enrolled beside alice:
    charlie sees the group for dana's sake, and is on neither alice's care team nor the group's staff."""
    from kapstone.program.models import Enrolment

    session = cast.dosing_session()
    Enrolment.objects.create(group=session.group, patient=cast.dana, status=Enrolment.Status.ENROLLED)
    return session


def test_seeing_a_group_for_one_patient_s_sake_lets_no_one_make_themself_its_facilitator_to_open_another_s_record(
    cast,
):
    """Facilitating a course grants its patients' records (program.services.facilitator_access_sync): whoever may
    change who facilitates decides who reads the records. Charlie may see the group because dana is in it; if he
    could put himself among a session's facilitators, alice's record would be his without anyone who looks after
    her choosing it."""
    from django.utils import timezone

    session = _mixed_group_session(cast)
    client = signed_in_client(cast.charlie)
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 404
    answer = client.post(
        reverse("program:session_edit", args=[session.pk]),
        {
            "starts_at": timezone.localtime(session.starts_at).strftime("%Y-%m-%dT%H:%M"),
            "room": session.room_id,
            "facilitators": [cast.therapist.pk, cast.charlie.pk],
        },
    )
    opened = client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code
    facilitates = session.facilitators.filter(pk=cast.charlie.pk).exists()
    assert (answer.status_code, facilitates, opened) == (400, False, 404)
    assert "Only staff who look after every patient of this group" in answer.content.decode()


# --- what a link's secret part may hold -----------------------------------------------------------------------------

TOKEN_ROUTES = ("accounts:set_password", "portal:invitation", "program:feed")


def test_a_link_s_secret_part_holding_anything_is_not_found_never_a_server_error(cast):
    """The secret in an emailed link or a calendar feed's address is whatever the sender typed: a NUL (PostgreSQL
    refuses one in text), bytes that are no UTF-8, a direction control, ten thousand characters."""
    clients = {
        "anonymous": Client(),
        "alice_user": signed_in_client(cast.alice_user),
        "bob": signed_in_client(cast.bob),
    }
    failed = []
    for name in TOKEN_ROUTES:
        prefix = reverse(name, kwargs={"token": "TOKEN"}).split("TOKEN")
        for secret in ("%00", "a%00b", "%ED%A0%80", "%FF", "%E2%80%AE", "x" * 10_000, "..%2F..%2F", "%20"):
            for who, client in clients.items():
                client.raise_request_exception = False
                status = client.get(secret.join(prefix)).status_code
                if status >= 500 or status == 200:
                    failed.append((name, who, secret[:12], status))
    assert failed == [], failed


# --- bodies too big or with too many fields -------------------------------------------------------------------------


def test_a_form_far_too_long_or_with_thousands_of_fields_is_refused_and_writes_nothing(cast, settings):
    """A script can send any body: a message of many megabytes, or thousands of fields (each one parsed and kept
    in memory). Django's limits refuse both; the answer is a 400, never a 500, and nothing is written."""
    from kapstone.integration.models import JournalEntry
    from kapstone.messaging.models import Message

    client = signed_in_client(cast.alice_user)
    client.raise_request_exception = False
    huge = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    many = {f"field{index}": "1" for index in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    for data in ({"subject": "Hello", "body": huge}, {"subject": "Hello", "body": "Hi", **many}):
        assert client.post(reverse("messaging:my_threads"), data).status_code == 400
        journal = {"prompt": "free", "text": data["body"], "activity": "none", "mood": "3", **many}
        assert client.post(reverse("integration:journal_new"), journal).status_code == 400
    assert not Message.objects.exists() and not JournalEntry.objects.exists()


def test_a_group_of_two_care_teams_shows_each_clinician_only_their_own_patients(cast):
    session = _mixed_group_session(cast)
    client = signed_in_client(cast.charlie)
    for name, args in (
        ("program:group", [session.group_id]),
        ("dosing:room", [session.pk]),
        ("program:session_edit", [session.pk]),
        ("home:home", []),
    ):
        page = client.get(reverse(name, args=args))
        assert page.status_code == 200, name
        assert "Abernathy" not in page.content.decode() and cast.alice.record_number not in page.content.decode(), name
    assert "Delacroix" in client.get(reverse("program:group", args=[session.group_id])).content.decode()
