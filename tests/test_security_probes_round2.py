"""Security probes, second round, as an outside tester would make them: downloads asked with another patient's ids,
ids slipped into portal forms, fields no form shows, headers and cookies in production, the session's lifetime,
and sign-in lockouts. tests/test_security_probes.py holds the first round."""

import datetime
import re
import time

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from kapstone.accounts.signals import SIGNED_IN_AT
from kapstone.audit.models import AuditEvent
from kapstone.integration.models import JournalEntry
from kapstone.patients.models import CareTeamMembership, Patient
from tests.conftest import signed_in_client
from tests.probes import rolled_back
from tests.test_mixed_ids import _rows_digest
from tests.test_permission_matrix import ROUTES

# --- downloads asked with someone else's ids --------------------------------------------------------------------


def _is_download(response) -> bool:
    kind = response.get("Content-Type", "")
    return response.status_code == 200 and not kind.startswith("text/html")


def test_every_download_asked_by_someone_it_is_not_for_is_not_found_or_refused_and_recorded(cast):
    """Every page the matrix lists that answers with a file (a journal picture, an attachment, a PDF, a CSV, a
    calendar) is asked by each role it is not for: outside the care team or another patient (404), a role that may
    not (403, the researcher included). Each refusal is in the audit trail with its path."""
    downloads, refusals = [], []
    for name, route in sorted(ROUTES.items()):
        if route.public or route.method != "get":
            continue
        with rolled_back():
            url = reverse(name, kwargs=route.kwargs(cast))
            if not _is_download(signed_in_client(cast.user(sorted(route.allow)[0])).get(url)):
                continue
            downloads.append(name)
            for role in ("admin", "bob", "therapist", "nurse", "charlie", "researcher", "alice_user", "dana_user"):
                if role in route.allow:
                    continue
                before = AuditEvent.objects.filter(object_type="access_denied").count()
                response = signed_in_client(cast.user(role)).get(url)
                expected = 404 if role in route.not_found else 403
                recorded = AuditEvent.objects.filter(object_type="access_denied").order_by("-pk").first()
                if (
                    response.status_code != expected
                    or AuditEvent.objects.filter(object_type="access_denied").count() != before + 1
                    or urlsplit_path(url) not in recorded.detail
                ):
                    refusals.append((name, role, response.status_code))
    assert refusals == []
    assert {"integration:journal_image", "messaging:attachment", "billing:statement_pdf"} <= set(downloads)
    assert {"outcomes:report_pdf", "dosing:ledger_export", "billing:visit_superbill_pdf"} <= set(downloads)


def urlsplit_path(url: str) -> str:
    return url.split("?")[0]


def test_a_researcher_reaches_no_patient_s_file_by_any_id(cast):
    """The researcher, walking ids 1 to 5 of every download with an id: never a 200."""
    from tests.integration_app.factories import journal_entry

    journal_entry(cast.alice, text="A drawing", shared=True)
    client = signed_in_client(cast.researcher)
    for name in ("integration:journal_image", "messaging:attachment", "billing:statement_pdf", "screening:reply"):
        route = ROUTES[name]
        kwargs = route.kwargs(cast)
        for value in range(1, 6):
            asked = {key: value for key in kwargs}
            assert client.get(reverse(name, kwargs=asked)).status_code in (403, 404), (name, asked)


# --- the portal: another patient's ids in a form -----------------------------------------------------------------

# Names a script would try for the row a portal form acts on.
SLIPPED = ["patient", "patient_id", "user", "user_id", "assessment", "assessment_id", "entry", "entry_id", "id", "pk"]


def _dana_rows(cast) -> dict:
    """A questionnaire, a journal entry, a message thread and a creativity task of dana's."""
    from kapstone.messaging import services as messaging_services
    from tests.creativity.factories import due_task
    from tests.integration_app.factories import journal_entry
    from tests.measures.factories import due_assessment

    return {
        "assessment": due_assessment(cast.dana).pk,
        "entry": journal_entry(cast.dana, text="Dana's own words", shared=False).pk,
        "thread": messaging_services.thread_start(
            actor=cast.dana_user, patient=cast.dana, subject="Mine", body="Private"
        ).thread.pk,
        "administration": due_task(cast.dana).pk,
    }


def _of_dana() -> dict[str, str]:
    """A digest of every row that names dana (by its patient or user column)."""
    from django.apps import apps

    dana = Patient.objects.get(given_name="Dana")
    digest = {}
    for model in apps.get_models():
        fields = {field.name for field in model._meta.get_fields() if getattr(field, "concrete", False)}
        if "patient" in fields:
            digest[model._meta.db_table] = repr(list(model._base_manager.filter(patient=dana).values_list()))
    return digest


def test_a_patient_s_portal_forms_ignore_another_patient_s_ids_slipped_into_them(cast):
    from tests.measures.factories import due_assessment

    dana = _dana_rows(cast)
    own = due_assessment(cast.alice)
    slipped = {name: str(dana.get(name.split("_")[0], cast.dana.pk)) for name in SLIPPED}
    slipped.update(user=str(cast.dana_user.pk), user_id=str(cast.dana_user.pk))
    before = _of_dana()
    client = signed_in_client(cast.alice_user)
    posts = [
        (
            reverse("portal:questionnaire", args=[own.pk]),
            {"action": "save", **{f"item_{n}": "1" for n in range(1, 10)}},
        ),
        (reverse("integration:journal_new"), {"prompt": "free", "text": "Mine", "activity": "none", "mood": "3"}),
        (reverse("messaging:my_threads"), {"subject": "Hello", "body": "From alice"}),
        (reverse("integration:preferences"), {"by_email": "on", "time_zone": "UTC"}),
        (reverse("screening:portal_consent"), {"typed_name": "Alice Abernathy", "understood": "on"}),
    ]
    for url, data in posts:
        assert client.post(url, {**data, **slipped}).status_code < 500, url
    assert _of_dana() == before, "a row of dana's changed"
    assert not JournalEntry.objects.filter(patient=cast.dana, text="Mine").exists()


def test_a_patient_asking_for_another_patient_s_rows_by_url_is_not_found_and_nothing_changes(cast):
    dana = _dana_rows(cast)
    client = signed_in_client(cast.alice_user)
    before = _rows_digest()
    asked = [
        ("get", reverse("portal:questionnaire", args=[dana["assessment"]])),
        ("post", reverse("portal:questionnaire", args=[dana["assessment"]])),
        ("get", reverse("integration:journal_entry", args=[dana["entry"]])),
        ("post", reverse("integration:journal_share", args=[dana["entry"]])),
        ("get", reverse("integration:journal_image", args=[dana["entry"]])),
        ("get", reverse("messaging:my_thread", args=[dana["thread"]])),
        ("post", reverse("messaging:my_thread", args=[dana["thread"]])),
        ("get", reverse("creativity:my_task", args=[dana["administration"]])),
        ("post", reverse("creativity:my_task", args=[dana["administration"]])),
        ("post", reverse("creativity:my_autosave", args=[dana["administration"]])),
    ]
    for method, url in asked:
        data = (
            {"shared": "on", "body": "x", "action": "submit", "item_1": "3", "ideas": "a"} if method == "post" else {}
        )
        assert getattr(client, method)(url, data).status_code == 404, (method, url)
    assert _rows_digest() == before


# --- fields no form shows ---------------------------------------------------------------------------------------

PRIVILEGE = {
    "role": "admin",
    "is_staff": "on",
    "is_superuser": "on",
    "is_active": "on",
    "care_team": "",
    "staff": "",
    "key": "outcomes.minimum_cell_size",
    "value": "1",
    "user": "",
}


def _who_is_what() -> list:
    users = get_user_model().objects.order_by("pk").values_list("pk", "role", "is_staff", "is_superuser", "is_active")
    teams = CareTeamMembership.objects.order_by("pk").values_list("patient_id", "staff_id", "is_lead")
    return [list(users), list(teams)]


def test_fields_a_form_does_not_show_change_no_role_care_team_or_setting(cast):
    from kapstone.practice.models import PracticeSetting

    before, settings_before = _who_is_what(), list(PracticeSetting.objects.values_list())
    extra = {**PRIVILEGE, "staff": str(cast.charlie.pk), "care_team": str(cast.charlie.pk), "user": str(cast.admin.pk)}
    posts = [
        (cast.alice_user, reverse("integration:preferences"), {"by_email": "on", "time_zone": "UTC"}),
        (cast.alice_user, reverse("accounts:password_change"), {"old_password": "x"}),
        (
            cast.bob,
            reverse("patients:edit", args=[cast.alice.pk]),
            {"given_name": "Alice", "family_name": "Abernathy", "date_of_birth": "1980-05-17", "email": "a@b.example"},
        ),
        (cast.bob, reverse("program:staff_away"), {"first_day": datetime.date.today().isoformat(), "last_day": ""}),
        (cast.researcher, reverse("outcomes:report"), {}),
        (
            cast.admin,
            reverse("accounts:staff"),
            {"username": "newbie", "first_name": "N", "last_name": "B", "email": "n@p.example", "role": "nurse"},
        ),
    ]
    for user, url, data in posts:
        assert signed_in_client(user).post(url, {**extra, **data}).status_code < 500, url
    after = _who_is_what()
    new_users = [row for row in after[0] if row not in before[0]]
    assert [row[1:] for row in new_users] in ([], [("nurse", False, False, True)]), new_users
    assert [row for row in after[0] if row[0] in {pk for pk, *_ in before[0]}] == before[0]
    assert after[1] == before[1]
    assert list(PracticeSetting.objects.values_list()) == settings_before
    cast.alice.refresh_from_db()
    assert cast.alice.user_id == cast.alice_user.pk


# --- headers and cookies in production --------------------------------------------------------------------------


def test_production_settings_send_hsts_and_secure_cookies():
    """What the production settings (KAPSTONE_DEMO unset) say, read from a fresh interpreter."""
    import json
    import os
    import subprocess
    import sys

    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("KAPSTONE_DEMO", "DJANGO_SETTINGS"))
    }
    environment.update(
        SECRET_KEY="x" * 60,
        DATABASE_URL="sqlite:////tmp/never-opened.sqlite3",
        ALLOWED_HOSTS="kapstone.example",
        KAPSTONE_SITE_URL="https://kapstone.example",
        KAPSTONE_RESEARCH_ID_KEY="y" * 40,
        KAPSTONE_NOTES_KEY="ZGVtby1vbmx5LW5vdGVzLWtleS0zMmJ5dGVzLWxvbmc=",
        KAPSTONE_WEBAUTHN_RP_ID="kapstone.example",
        KAPSTONE_WEBAUTHN_RP_NAME="Kapstone",
    )
    script = (
        "import json, kapstone.settings as s; print(json.dumps({k: getattr(s, k) for k in ["
        "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY',"
        "'SESSION_COOKIE_SAMESITE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'X_FRAME_OPTIONS',"
        "'SECURE_REFERRER_POLICY', 'SECURE_CONTENT_TYPE_NOSNIFF', 'CONTENT_SECURITY_POLICY']}))"
    )
    run = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"production settings did not load: {run.stderr[-800:]}")
    values = json.loads(run.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_HTTPONLY"] and values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["X_FRAME_OPTIONS"] == "DENY" and "frame-ancestors 'none'" in values["CONTENT_SECURITY_POLICY"]
    assert values["SECURE_REFERRER_POLICY"] and values["SECURE_CONTENT_TYPE_NOSNIFF"]


def test_every_page_sends_its_protective_headers(cast):
    for user, url in [
        (None, reverse("accounts:login")),
        (cast.bob, reverse("patients:detail", args=[cast.alice.pk])),
        (cast.alice_user, reverse("portal:home")),
    ]:
        response = (Client() if user is None else signed_in_client(user)).get(url)
        policy = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] in ("same-origin", "strict-origin", "no-referrer")
        assert response["X-Content-Type-Options"] == "nosniff"


def test_every_signed_in_page_of_a_record_is_kept_in_no_cache(cast):
    """Every page and download the matrix lets a signed-in person open is sent with no-store: a shared computer's
    cache keeps nothing for the next person."""
    cached, skipped = [], []
    for name, route in sorted(ROUTES.items()):
        if route.public or route.method != "get":
            continue
        try:
            with rolled_back():
                url = reverse(name, kwargs=route.kwargs(cast))
                response = signed_in_client(cast.user(sorted(route.allow)[0])).get(url)
                if response.status_code == 200 and "no-store" not in response.get("Cache-Control", ""):
                    cached.append(name)
        except Exception:  # noqa: BLE001  # a route whose rows clash with an earlier one's: the matrix asks it alone
            skipped.append(name)
    assert cached == [] and len(skipped) < 5, (cached, skipped)


# --- the session --------------------------------------------------------------------------------------------------


def _age_sign_in(client, hours: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = int(time.time() - hours * 3600)
    session.save()


def test_a_session_kept_busy_still_ends_at_its_absolute_lifetime(cast, settings):
    client = signed_in_client(cast.bob)
    _age_sign_in(client, settings.SESSION_ABSOLUTE_HOURS - 0.1)
    assert client.get(reverse("home:home")).status_code == 200
    assert client.post(reverse("accounts:keep_alive")).status_code == 200
    _age_sign_in(client, settings.SESSION_ABSOLUTE_HOURS + 0.1)
    response = client.get(reverse("home:home"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))
    assert client.get(reverse("patients:list")).url.startswith(reverse("accounts:login")), "signed out for good"
    assert AuditEvent.objects.filter(action="logout", actor_id=cast.bob.pk).exists()


def test_signing_in_starts_the_lifetime_afresh(cast, settings):
    client = Client()
    client.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    assert time.time() - client.session[SIGNED_IN_AT] < 60
    assert client.get(reverse("portal:home")).status_code == 200


def test_a_session_past_its_idle_time_is_signed_out(cast):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = signed_in_client(cast.alice_user)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert client.get(reverse("portal:home")).url.startswith(reverse("accounts:login"))
    assert django_settings.SESSION_COOKIE_AGE <= 30 * 60 and django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_a_deactivated_staff_member_s_open_session_ends_at_once(cast):
    client = signed_in_client(cast.nurse)
    assert client.get(reverse("home:home")).status_code == 200
    signed_in_client(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.nurse.pk, "deactivate"]), {"confirm": "yes"}
    )
    response = client.get(reverse("patients:detail", args=[cast.alice.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_a_login_made_inactive_by_any_means_opens_nothing_on_its_next_request(cast):
    client = signed_in_client(cast.bob)
    get_user_model().objects.filter(pk=cast.bob.pk).update(is_active=False)
    assert client.get(reverse("patients:list")).url.startswith(reverse("accounts:login"))


# --- sign-in lockouts ---------------------------------------------------------------------------------------------


def _fail(client: Client, username: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": "wrong-password-here"})


def _page_text(response) -> str:
    text = response.content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text)


def test_a_locked_login_and_a_username_no_one_has_get_the_same_answers(cast, settings):
    answers = {}
    for username in ("bob", "no-such-person"):
        client = Client()
        first = [_fail(client, username) for _ in range(settings.AXES_FAILURE_LIMIT)]
        locked = _fail(client, username)
        right = client.post(reverse("accounts:login"), {"username": username, "password": "correct-horse-battery"})
        answers[username] = (
            [response.status_code for response in first],
            locked.status_code,
            right.status_code,
            _page_text(locked).replace(username, "NAME"),
        )
    assert answers["bob"] == answers["no-such-person"]
    assert answers["bob"][1] == 429


def test_one_login_s_lockout_leaves_another_login_from_the_same_address_free(cast, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        _fail(client, "dana")
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("portal:home")


def test_one_address_trying_many_usernames_is_refused_past_its_own_limit(cast, settings):
    """Spraying: one password tried on many usernames never reaches any one username's limit."""
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 8
    client = Client()
    for index in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT):
        assert _fail(client, f"guess{index}").status_code == 200
    assert not any(
        attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT for attempt in AccessAttempt.objects.all()
    )
    refused = client.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    answer = other_address.post(reverse("accounts:login"), {"username": "alice", "password": "correct-horse-battery"})
    assert answer.status_code == 302, "another address is not held back"
