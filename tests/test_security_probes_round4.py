"""Security probes, fourth round: work scheduled for a whole group whose patients belong to different care teams;
how long facilitating a course opens its patients' records; refused posts with a full body; emailed links used by
someone else; where a form's `next` may send its sender; a CSRF token from another session or site; the headers of
error pages and files; secrets in the logs; searches that count patients the searcher may not see; and the pages a
script calls. tests/test_security_probes.py and rounds 2 and 3 hold the earlier rounds."""

import datetime
import logging
import re

import pytest
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.creativity.services import CreativityError
from tests.conftest import make_user, signed_in_client
from tests.probes import rolled_back, route_url, tables_written
from tests.test_permission_matrix import ROUTES
from tests.test_security_probes import OFF_SITE, _off_site
from tests.test_security_probes_round3 import _mixed_group_session

# --- work for a whole group of two care teams ----------------------------------------------------------------------


def _course_work_of(patient) -> tuple[int, int]:
    from kapstone.creativity.models import CreativityAdministration
    from kapstone.measures.models import Assessment

    return (
        Assessment.objects.filter(patient=patient).count(),
        CreativityAdministration.objects.filter(patient=patient).count(),
    )


SCHEDULING = ("measures:schedule_group", "creativity:schedule_group")


def test_a_clinician_who_cannot_see_every_patient_of_a_group_schedules_no_course_work_for_it(cast):
    """Charlie sees the group for dana's sake; alice, in the same group, is bob's patient. Scheduling the group's
    questionnaires or creativity tasks would write into alice's record for someone who may not open it: it is
    refused, in words that name no one, and nothing is written for anyone. Bob, who cannot see dana, is refused
    too; an admin schedules it."""
    session = _mixed_group_session(cast)
    group = session.group
    before = {patient.pk: _course_work_of(patient) for patient in (cast.alice, cast.dana)}
    for user in (cast.charlie, cast.bob):
        client = signed_in_client(user)
        for name in SCHEDULING:
            answer = client.post(reverse(name, args=[group.pk]), follow=True)
            page = answer.content.decode()
            assert answer.status_code == 200, (user, name)
            assert "Only staff who look after every patient of this group" in page, (user, name)
            hidden = "Abernathy" if user == cast.charlie else "Delacroix"
            assert hidden not in page, (user, name)
    assert {patient.pk: _course_work_of(patient) for patient in (cast.alice, cast.dana)} == before
    admin = signed_in_client(cast.admin)
    for name in SCHEDULING:
        assert admin.post(reverse(name, args=[group.pk])).status_code == 302
    assert _course_work_of(cast.alice) != before[cast.alice.pk]
    assert _course_work_of(cast.dana) != before[cast.dana.pk]


def _unplanned_mixed_group(cast):
    """A group not yet planned holding alice (bob's) and dana (charlie's)."""
    from kapstone.program.models import Enrolment, Group

    group = Group.objects.create(
        name="Friday group",
        template_id="journey-clinical-style",
        template_version=1,
        min_size=2,
        max_size=4,
        start_date=datetime.date.today() + datetime.timedelta(days=14),
    )
    for patient in (cast.alice, cast.dana):
        Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.ENROLLED)
    return group


def test_a_clinician_who_cannot_see_every_patient_of_a_group_cannot_plan_its_course(cast):
    """Adopting a plan books the integration sessions, puts every patient's questionnaires and tasks due and grants
    the planned facilitators every patient's record: charlie, who sees only dana, may neither ask for a plan nor
    confirm one (a confirmation is a signed token a script can make from a plan it saw elsewhere)."""
    from kapstone.program.views import PLAN_SALT

    group = _unplanned_mixed_group(cast)
    client = signed_in_client(cast.charlie)
    start = (datetime.date.today() + datetime.timedelta(days=14)).isoformat()
    answer = client.post(reverse("program:plan", args=[group.pk]), {"plan-start_date": start}, follow=True)
    assert "Only staff who look after every patient of this group" in answer.content.decode()
    assert "Abernathy" not in answer.content.decode()
    token = signing.dumps({"group": group.pk, "sessions": []}, salt=PLAN_SALT, compress=True)
    answer = client.post(reverse("program:plan_confirm", args=[group.pk]), {"plan": token}, follow=True)
    assert "Only staff who look after every patient of this group" in answer.content.decode()
    assert not group.sessions.exists()
    assert _course_work_of(cast.alice) == (0, 0)


def test_an_admin_and_a_clinician_who_sees_every_patient_may_still_plan(cast):
    from kapstone.program.selectors import group_has_patient_hidden_from

    group = _unplanned_mixed_group(cast)
    assert not group_has_patient_hidden_from(user=cast.admin, group=group)
    assert group_has_patient_hidden_from(user=cast.charlie, group=group)
    assert group_has_patient_hidden_from(user=cast.researcher, group=group)
    from kapstone.patients.models import CareTeamMembership

    CareTeamMembership.objects.create(patient=cast.alice, staff=cast.charlie)
    assert not group_has_patient_hidden_from(user=cast.charlie, group=group)


# --- how long facilitating opens a record -------------------------------------------------------------------------


def _fran_facilitates_at(cast, starts_at):
    """Fran (a therapist on no care team) facilitates alice's group's dosing session, held at `starts_at`."""
    from kapstone.accounts.roles import Role
    from kapstone.program import services
    from kapstone.program.models import GroupSession

    fran = make_user("fran", Role.THERAPIST)
    session = cast.dosing_session()
    session.facilitators.set([cast.bob, fran])
    GroupSession.objects.filter(pk=session.pk).update(
        starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=3)
    )
    services.facilitator_access_sync(actor=cast.admin, patient_ids=[cast.alice.pk])
    return fran, session


FACILITATOR_PAGES = ("patients:detail", "integration:timeline", "measures:patient", "creativity:patient")


def test_a_facilitator_opens_the_patient_s_record_around_the_session_they_facilitate(cast):
    fran, _ = _fran_facilitates_at(cast, timezone.now() - datetime.timedelta(hours=1))
    client = signed_in_client(fran)
    for name in FACILITATOR_PAGES:
        assert client.get(reverse(name, args=[cast.alice.pk])).status_code == 200, name


def test_a_facilitator_s_access_ends_after_the_session_s_integration_window_though_the_enrolment_is_open(cast):
    from kapstone.program.models import Enrolment

    fran, session = _fran_facilitates_at(cast, timezone.now() - datetime.timedelta(days=21))
    assert Enrolment.objects.filter(group=session.group, patient=cast.alice, status="enrolled").exists()
    client = signed_in_client(fran)
    for name in FACILITATOR_PAGES:
        assert client.get(reverse(name, args=[cast.alice.pk])).status_code == 404, name
    room = client.get(reverse("dosing:room", args=[session.pk]))
    assert room.status_code in (200, 404) and "Abernathy" not in room.content.decode()
    assert cast.alice.record_number not in client.get(reverse("patients:list"), {"q": "Abernathy"}).content.decode()


def test_a_facilitator_s_access_starts_no_sooner_than_the_lead_time_before_the_session(cast):
    fran, _ = _fran_facilitates_at(cast, timezone.now() + datetime.timedelta(days=40))
    assert signed_in_client(fran).get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 404


# --- a refused post, whatever its body ----------------------------------------------------------------------------

FULL_BODY = {
    "confirm": "yes",
    "action": "submit",
    "text": "Probe",
    "body": "Probe",
    "note": "Probe note",
    "reason": "Probe reason",
    "subject": "Probe",
    "shared": "on",
    "item_1": "1",
    "ideas": "a",
    "plan": "x",
    "amount": "10",
    "dose_mg": "10",
    "given_name": "Probe",
    "family_name": "Probe",
    "date_of_birth": "1980-01-01",
    "starts_at": "2030-01-07T10:00",
    "start_date": "2030-01-07",
    "site": "Main",
    "dosing_setting": "office",
    "held": "video",
    "typed_name": "Alice Abernathy",
    "understood": "on",
}


def test_a_post_refused_to_someone_outside_the_care_team_or_another_patient_writes_nothing_whatever_its_body(cast):
    """The matrix posts an empty body; a script posts a full one. For every route charlie or dana is told does not
    exist, a post with every field a form reads is still not found, and no table but the audit trail is written:
    a view that wrote before it checked who asks would show here."""
    failed, skipped = [], []
    for name, route in sorted(ROUTES.items()):
        asked = sorted(route.not_found & {"charlie", "dana_user"})
        if not asked or route.public:
            continue
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                skipped.append(name)
                continue
            for role in asked:
                client = signed_in_client(cast.user(role))
                client.raise_request_exception = False
                connection.queries_log.clear()
                with CaptureQueriesContext(connection) as queries:
                    status = client.post(url, FULL_BODY).status_code
                changed = tables_written(queries)
                if status not in (404, 405) or changed:
                    failed.append((name, role, status, changed))
    assert failed == [], "\n".join(map(str, failed))
    assert len(skipped) < 5, skipped


# --- emailed links used by someone else --------------------------------------------------------------------------


def test_another_patient_s_questionnaire_link_is_not_found_and_left_unspent_for_its_owner(cast):
    from kapstone.measures import services as measures_services
    from kapstone.measures.models import Invitation
    from tests.measures.factories import due_assessment

    assessment = due_assessment(cast.alice, "gad7")
    invitation, token = measures_services.invitation_create(assessment=assessment)
    url = reverse("portal:invitation", args=[token])
    assert signed_in_client(cast.dana_user).get(url).status_code == 404
    for staff in (cast.bob, cast.admin):
        assert signed_in_client(staff).get(url).status_code in (403, 404)
    assert Client().get(url).status_code == 302  # to the sign-in page, nothing spent
    invitation.refresh_from_db()
    assert invitation.used_at is None
    alice = signed_in_client(cast.alice_user)
    assert alice.get(url)["Location"] == reverse("portal:questionnaire", args=[assessment.pk])
    again = alice.get(url, follow=True)
    assert "already been used" in again.content.decode()
    assert Invitation.objects.get(pk=invitation.pk).used_at is not None
    # Spent or not, dana still cannot reach alice's questionnaire by its number.
    assert (
        signed_in_client(cast.dana_user).get(reverse("portal:questionnaire", args=[assessment.pk])).status_code == 404
    )


def test_a_password_link_opened_in_someone_else_s_signed_in_browser_signs_no_one_in_as_its_owner(cast):
    """Dana, signed in, opens the link emailed to alice (a shared computer, a forwarded mail): the page sets alice's
    password, as the link is for whoever holds it, but dana stays dana, nobody is signed in as alice, alice's open
    sessions end, and the link is then spent."""
    from kapstone.accounts.services import account_link_create

    token = account_link_create(user=cast.alice_user, purpose="reset", lifetime=datetime.timedelta(hours=1))
    alice_session = signed_in_client(cast.alice_user)
    dana = signed_in_client(cast.dana_user)
    url = reverse("accounts:set_password", args=[token])
    assert dana.get(url).status_code == 200
    answer = dana.post(
        url, {"new_password1": "a fresh long passphrase 42", "new_password2": "a fresh long passphrase 42"}
    )
    assert answer.status_code == 302
    assert int(dana.session["_auth_user_id"]) == cast.dana_user.pk
    assert alice_session.get(reverse("portal:home")).status_code == 302  # signed out
    assert dana.get(url).status_code == 400


# --- where `next` may send someone --------------------------------------------------------------------------------

TRICKY_NEXT = [*OFF_SITE, "/\\evil.example/", "https:evil.example", "%2F%2Fevil.example", "///evil.example/"]
# An on-site address no page links to: a route whose redirect carries it back reads `next`.
NEXT_MARK = "/next-read-here/"


def _asked(client, url: str, target: str) -> tuple:
    """The route asked by POST and GET with `next` set to `target`."""
    return client.post(f"{url}?next={target}", {**FULL_BODY, "next": target}), client.get(url, {"next": target})


def test_no_post_of_any_route_sends_its_sender_off_the_site_through_next(cast):
    """Every route the matrix lists, asked by a role it lets through (a visitor, for a public one) with `next` in
    the body and in the query string, by POST and GET: whatever it answers, a redirect stays on the site. A route
    that sends its sender to an on-site `next` is asked with every tricky address; one that does not, with the two
    plainest off-site ones (every address on every route took 80-110 s of CI's two minutes' margin)."""
    sent_off, skipped, reading_next = [], [], []
    for name, route in sorted(ROUTES.items()):
        # A public page (signing in and out, a password link) is asked as a visitor.
        role = "anonymous" if route.public or not route.allow else min(route.allow)
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                skipped.append(name)
                continue
            client = Client() if role == "anonymous" else signed_in_client(cast.user(role))
            client.raise_request_exception = False
            reads_next = any(NEXT_MARK in answer.get("Location", "") for answer in _asked(client, url, NEXT_MARK))
            if reads_next:
                reading_next.append(name)
            for target in TRICKY_NEXT[:6] + TRICKY_NEXT[-5:] if reads_next else TRICKY_NEXT[:2]:
                for answer in _asked(client, url, target):
                    location = answer.get("Location", "")
                    if answer.status_code in (301, 302, 303, 307, 308) and _off_site(location):
                        sent_off.append((name, role, target, location))
    assert sent_off == [], "\n".join(map(str, sent_off))
    assert len(skipped) < 5, skipped
    assert {"measures:acknowledge", "accounts:two_factor_setup"} <= set(reading_next), reading_next  # the mark works


# --- CSRF tokens from elsewhere ------------------------------------------------------------------------------------


def _csrf_pair(client, url) -> tuple[str, str]:
    """The CSRF cookie and the token a page's form carries, for this client."""
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, url
    return client.cookies["csrftoken"].value if "csrftoken" in client.cookies else "", token[1]


def test_a_csrf_token_from_another_session_or_a_post_from_another_origin_is_refused(cast):
    from kapstone.messaging.models import Message

    url = reverse("messaging:my_threads")
    alice = signed_in_client(cast.alice_user, csrf_checks=True)
    dana = signed_in_client(cast.dana_user, csrf_checks=True)
    _, alice_token = _csrf_pair(alice, url)
    _, dana_token = _csrf_pair(dana, url)
    data = {"subject": "Hello", "body": "Hi"}
    # Dana's token with alice's session and cookie: a forged page cannot borrow the attacker's own token.
    assert alice.post(url, {**data, "csrfmiddlewaretoken": "x" + dana_token[1:]}).status_code == 403
    # Alice's own token, sent from another site's page over HTTPS.
    refused = alice.post(
        url, {**data, "csrfmiddlewaretoken": alice_token}, HTTP_ORIGIN="https://evil.example", secure=True
    )
    assert refused.status_code == 403
    assert not Message.objects.exists()
    # The same token from the site itself is let through.
    assert alice.post(url, {**data, "csrfmiddlewaretoken": alice_token}).status_code == 302


# --- headers of every answer ---------------------------------------------------------------------------------------


def test_refusals_and_errors_carry_the_protective_headers_and_no_store(cast):
    """A 404 for another care team's patient, a 403 for a role, a 400 for a bad form: each is framed by no site,
    sniffed by no browser, and kept in no cache (the 404 page for a record says nothing, but its address does)."""
    bob = signed_in_client(cast.bob)
    bob.raise_request_exception = False
    answers = {
        "404": signed_in_client(cast.charlie).get(reverse("patients:detail", args=[cast.alice.pk])),
        "403": signed_in_client(cast.researcher).get(reverse("patients:detail", args=[cast.alice.pk])),
        "400": bob.post(reverse("patients:edit", args=[cast.alice.pk]), {"date_of_birth": "not a date"}),
        "portal 404": signed_in_client(cast.dana_user).get(reverse("portal:questionnaire", args=[999999])),
    }
    for what, response in answers.items():
        assert response["X-Frame-Options"] == "DENY", what
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], what
        assert response["X-Content-Type-Options"] == "nosniff", what
        assert "no-store" in response.get("Cache-Control", ""), what


def test_every_download_is_sent_as_a_file_no_browser_runs_and_no_cache_keeps(cast):
    """A file is named by the server's Content-Type, never sniffed, never HTML or SVG a browser would run on the
    site's origin, and kept in no cache."""
    from tests.integration_app.factories import journal_entry

    journal_entry(cast.alice, text="A drawing", shared=True)
    found, failed = [], []
    for name, route in sorted(ROUTES.items()):
        if route.public or route.method != "get":
            continue
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                continue
            response = signed_in_client(cast.user(min(route.allow))).get(url)
            kind = response.get("Content-Type", "")
            if response.status_code != 200 or kind.startswith("text/html"):
                continue
            found.append(name)
            if (
                "svg" in kind
                or "xml" in kind
                and "calendar" not in kind
                or response.get("X-Content-Type-Options") != "nosniff"
                or "no-store" not in response.get("Cache-Control", "")
            ):
                failed.append((name, kind, response.get("Cache-Control")))
    assert failed == [], failed
    assert len(found) >= 6, found


def test_production_settings_keep_cookies_hosts_and_errors_tight():
    """What round 2 did not read of the production settings: the CSRF cookie's SameSite, the hosts the site
    answers, that an error is never shown to a visitor with its traceback, and that the opener of a page in
    another tab cannot reach it."""
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
    names = [
        "CSRF_COOKIE_SAMESITE",
        "ALLOWED_HOSTS",
        "DEBUG_PROPAGATE_EXCEPTIONS",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_TRUSTED_ORIGINS",
    ]
    # Django's defaults count as much as what kapstone.settings says, so the values are read from django.conf.
    environment["DJANGO_SETTINGS_MODULE"] = "kapstone.settings"
    script = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{k: getattr(s, k) for k in {names!r}}}))"
    )
    run = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"production settings did not load: {run.stderr[-800:]}")
    values = json.loads(run.stdout.strip().splitlines()[-1])
    assert values["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["ALLOWED_HOSTS"] == ["kapstone.example"]
    assert not values["DEBUG_PROPAGATE_EXCEPTIONS"]
    assert values["SECURE_CROSS_ORIGIN_OPENER_POLICY"] in ("same-origin", "same-origin-allow-popups")
    assert all(origin.startswith("https://") for origin in values["CSRF_TRUSTED_ORIGINS"] or [])


# --- secrets in the logs -----------------------------------------------------------------------------------------


def test_no_password_code_or_link_secret_reaches_a_log_or_the_audit_trail(cast, caplog, settings):
    """Signing in (wrongly, then rightly, with the second step), a password link, a questionnaire link and a
    calendar feed's address: none of the secrets typed or carried is in any log record, at any level, or in the
    audit trail."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kapstone.accounts.services import account_link_create
    from kapstone.audit.models import AuditEvent
    from kapstone.measures import services as measures_services
    from kapstone.program import services as program_services
    from tests.measures.factories import due_assessment

    caplog.set_level(logging.DEBUG)
    secrets = ["Wrong-Horse-Battery-77", "correct-horse-battery"]
    client = Client()
    client.post(reverse("accounts:login"), {"username": "bob", "password": secrets[0]})
    client.post(reverse("accounts:login"), {"username": "bob", "password": secrets[1]})
    device = TOTPDevice.objects.get(user=cast.bob)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    code = f"{totp.token():0{device.digits}d}"
    wrong = f"{(int(code) + 1) % 10**device.digits:0{device.digits}d}"
    secrets += [wrong]  # the right code is six digits that may be anywhere; the wrong one is checked
    client.post(reverse("accounts:sign_in_second_step"), {"otp_token": wrong})
    token = account_link_create(user=cast.alice_user, purpose="reset", lifetime=datetime.timedelta(hours=1))
    secrets.append(token)
    Client().post(
        reverse("accounts:set_password", args=[token]),
        {"new_password1": "a fresh long passphrase 42", "new_password2": "a fresh long passphrase 42"},
    )
    secrets.append("a fresh long passphrase 42")
    _, invitation = measures_services.invitation_create(assessment=due_assessment(cast.alice, "gad7"))
    secrets.append(invitation)
    signed_in_client(cast.dana_user).get(reverse("portal:invitation", args=[invitation]))
    feed = program_services.feed_token_issue(user=cast.bob)
    secrets.append(feed)
    Client().get(reverse("program:feed", args=[feed]))
    logged = "\n".join(f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records)
    trail = "\n".join(f"{event.detail} {event.object_id}" for event in AuditEvent.objects.all())
    leaked = [(secret, secret in logged, secret in trail) for secret in secrets if secret in logged + trail]
    where = [line for line in (logged + "\n" + trail).splitlines() for s, _, _ in leaked if s in line]
    assert leaked == [], where[:3]


# --- searches and counts -----------------------------------------------------------------------------------------


def _without_tokens(page: str, *asked: str) -> str:
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    page = re.sub(r'content="[^"]{40,}"', "", page)  # the CSRF meta tag for the page's script
    for word in asked:
        page = page.replace(word, "WORD")
    return page


def test_a_search_answers_the_same_for_another_team_s_patient_as_for_a_name_no_one_has(cast):
    """Charlie searching for alice by name or record number, on the patient list and among a group's candidates,
    gets the page a name that matches no one gets: no count, no page number, no "more match" gives her away."""
    group = _mixed_group_session(cast).group
    client = signed_in_client(cast.charlie)
    for url, key in (
        (reverse("patients:list"), "q"),
        (reverse("program:group", args=[group.pk]), "find"),
    ):
        for hidden in ("Abernathy", cast.alice.record_number, "Alice"):
            nobody = "Zyxwvut"[: max(len(hidden), 1)]
            asked = client.get(url, {key: hidden}).content.decode()
            control = client.get(url, {key: nobody}).content.decode()
            assert _without_tokens(asked, hidden) == _without_tokens(control, nobody), (url, hidden)


def test_a_researcher_s_pages_hold_no_birth_date_phone_or_email_of_anyone(cast):
    """The researcher's every page (the report, the export, the Dore table...) is de-identified: none holds a
    patient's date of birth, phone number, email address or name."""
    from tests.integration_app.factories import journal_entry

    journal_entry(cast.alice, text="A drawing", shared=True)
    identifiers = ["1980-05-17", "17 May 1980", "May 17, 1980", "555-0100", "@mail.example", "Abernathy", "Delacroix"]
    shown = []
    for name, route in sorted(ROUTES.items()):
        if "researcher" not in route.allow or route.method != "get":
            continue
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                continue
            response = signed_in_client(cast.researcher).get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode(errors="replace")
            shown += [(name, found) for found in identifiers if found in text]
    assert shown == [], shown


# --- what a page's script calls -------------------------------------------------------------------------------------


def test_an_htmx_or_script_request_gets_no_more_than_the_page_would_give(cast):
    """A script's request (HX-Request, X-Requested-With, Accept: JSON) is filtered as the page is: charlie gets
    alice's pages as not found, dana alice's portal rows as not found, and the keep-alive and health answers say
    nothing about anyone."""
    from tests.measures.factories import due_assessment

    script = {"HTTP_HX_REQUEST": "true", "HTTP_X_REQUESTED_WITH": "XMLHttpRequest", "HTTP_ACCEPT": "application/json"}
    charlie = signed_in_client(cast.charlie)
    for name in ("patients:detail", "integration:timeline", "measures:patient", "creativity:patient"):
        assert charlie.get(reverse(name, args=[cast.alice.pk]), **script).status_code == 404, name
    dana = signed_in_client(cast.dana_user)
    assessment = due_assessment(cast.alice, "gad7")
    assert dana.get(reverse("portal:questionnaire", args=[assessment.pk]), **script).status_code == 404
    alive = signed_in_client(cast.bob).post(reverse("accounts:keep_alive"), **script)
    assert set(alive.json()) == {"idle_seconds"}
    health = Client().get(reverse("healthz"))
    assert set(health.json()) <= {"status", "database"} and "Abernathy" not in health.content.decode()


def test_every_address_of_a_patient_asked_for_another_team_s_patient_is_not_found(cast):
    """The matrix asks alice's addresses as charlie; here every route that takes a patient's number is asked by
    bob (alice's prescriber) with dana's number, and by dana with alice's: the other way round, the same answer."""
    failed = []
    for name, route in sorted(ROUTES.items()):
        if route.public:
            continue
        with rolled_back():
            try:
                kwargs = route.kwargs(cast)
            except (ObjectDoesNotExist, CreativityError):
                continue
            if kwargs.get("patient_id") != cast.alice.pk:
                continue
            url = reverse(name, kwargs={**kwargs, "patient_id": cast.dana.pk})
            for user in (cast.bob, cast.dana_user):
                client = signed_in_client(user)
                client.raise_request_exception = False
                answer = getattr(client, route.method)(url)
                if answer.status_code not in (403, 404):
                    failed.append((name, user.username, answer.status_code))
    assert failed == [], failed


def test_a_clinician_who_cannot_see_every_patient_of_a_group_cannot_move_its_sessions(cast):
    """Moving a session re-dates every patient's open questionnaires and creativity tasks: charlie, who sees the
    group for dana's sake, may not move it (even keeping its facilitators), and alice's work keeps its dates."""
    from kapstone.measures.models import Assessment
    from tests.measures.factories import due_assessment

    session = _mixed_group_session(cast)
    due_assessment(cast.alice, "gad7", group=session.group)
    before = list(Assessment.objects.filter(patient=cast.alice).values_list("due_at", "expires_at"))
    moved_to = timezone.localtime(session.starts_at) + datetime.timedelta(days=1)
    answer = signed_in_client(cast.charlie).post(
        reverse("program:session_edit", args=[session.pk]),
        {
            "starts_at": moved_to.strftime("%Y-%m-%dT%H:%M"),
            "room": session.room_id,
            "facilitators": [cast.bob.pk, cast.therapist.pk],
        },
    )
    assert answer.status_code == 400
    assert "Only staff who look after every patient of this group" in answer.content.decode()
    assert "Abernathy" not in answer.content.decode()
    session.refresh_from_db()
    assert timezone.localtime(session.starts_at) != moved_to
    assert list(Assessment.objects.filter(patient=cast.alice).values_list("due_at", "expires_at")) == before


def test_a_facilitator_cannot_make_their_grant_lasting_by_choosing_themself_for_the_care_team(cast):
    """A prescriber who facilitates alice's session opens her record for its window; the care-team page would let
    them put themself on her team by hand, which lasts. To them it is not found, and their grant stays a grant;
    bob, on her team by hand, may still choose them."""
    from kapstone.accounts.roles import Role
    from kapstone.patients.models import CareTeamMembership
    from kapstone.program import services
    from kapstone.program.models import GroupSession

    paz = make_user("paz", Role.PRESCRIBER)
    session = cast.dosing_session()
    session.facilitators.set([cast.bob, paz])
    services.facilitator_access_sync(actor=cast.admin, patient_ids=[cast.alice.pk])
    client = signed_in_client(paz)
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
    assert (
        reverse("patients:care_team", args=[cast.alice.pk])
        not in client.get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    )
    url = reverse("patients:care_team", args=[cast.alice.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"staff": [cast.bob.pk, paz.pk], "lead": paz.pk}).status_code == 404
    row = CareTeamMembership.objects.get(patient=cast.alice, staff=paz)
    assert row.granted_for_group_id == session.group_id and not row.is_lead
    # Long after the course, the grant opens nothing.
    GroupSession.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() - datetime.timedelta(days=30), ends_at=timezone.now() - datetime.timedelta(days=30)
    )
    services.facilitator_access_sync(actor=cast.admin, patient_ids=[cast.alice.pk])
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 404
    team = [cast.bob.pk, cast.therapist.pk, cast.nurse.pk, paz.pk]
    assert signed_in_client(cast.bob).post(url, {"staff": team, "lead": cast.bob.pk}).status_code == 302
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
