"""Security probes, seventh round: a witness's wrong password as the admins' security screen shows it, and what a
right one clears; emailed links under a Host header the visitor chose; codes used twice; rights changed or ended
under an open session; what a researcher's pages and the research export show; a receipt of the same invoice sent
twice, and raced. tests/test_security_probes.py and rounds 2 to 6 hold the earlier rounds."""

import datetime
import functools
import io
import re
import zipfile
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from kapstone.accounts.roles import Role
from kapstone.accounts.services import SecondSignatureRefused, second_signature_confirm
from kapstone.audit.models import AuditEvent
from kapstone.patients.models import CareTeamMembership
from tests.conftest import CAST_PASSWORD, signed_in_client
from tests.outcomes.factories import build_practice
from tests.probes import rolled_back, route_url
from tests.test_permission_matrix import ROUTES
from tests.test_security_probes_round3 import _alice_everywhere

WRONG = "not-the-witness-password-7"


def _witness_with(recorder, witness, password: str):
    """`witness`'s password typed at `recorder`'s screen, as a ledger form confirms its second signature."""
    request = RequestFactory().post("/dosing/ledger/count/", REMOTE_ADDR="10.0.0.7")
    request.user = recorder
    return second_signature_confirm(request=request, signer=witness, password=password, roles=tuple(Role))


def _failures(user) -> int:
    return sum(
        AccessAttempt.objects.filter(username=user.get_username()).values_list("failures_since_start", flat=True)
    )


# --- a witness's password on the security screen ---------------------------------------------------------------


def test_a_wrong_witness_password_is_shown_as_a_witness_s_at_the_recorder_s_screen_not_as_a_sign_in(cast):
    """It counts towards the witness's lockout as a failed sign-in does, but the admin reading the screen is told
    what it was: the witness's password, typed at the nurse's screen, not someone trying to sign in as bob."""
    with pytest.raises(SecondSignatureRefused):
        _witness_with(cast.nurse, cast.bob, WRONG)
    assert _failures(cast.bob) == 1
    Client().post(reverse("accounts:login"), {"username": "theo", "password": WRONG})
    failed = AuditEvent.objects.get(object_type="sign_in_failed", detail__contains="second_signature")
    assert failed.detail_data == {"username": "bob", "second_signature": "witness", "recorded_by": "nina"}
    assert CAST_PASSWORD not in failed.detail and WRONG not in failed.detail
    page = signed_in_client(cast.admin).get(reverse("accounts:security")).content.decode()
    assert "Wrong witness password" in page and "bob as witness, at nina&#x27;s screen" in page
    # A wrong password at sign-in is still said as one.
    assert re.search(r"Failed sign-in</td><td>theo</td>", page)


def test_a_right_witness_password_does_not_clear_the_witness_s_earlier_failures(cast, settings):
    """Django-axes clears a login's failures at a sign-in, which takes the password and the second factor. A witness
    signature is the password alone: were it to clear them, whoever had seen bob's password typed at a screen could
    try his authenticator codes at sign-in, then sign as his witness to start the count again, without end. Only a
    whole sign-in, the cool-off time or an admin's unlock clears the count."""
    settings.AXES_FAILURE_LIMIT = 3
    password_known = Client()
    password_known.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
    for _ in range(2):
        password_known.post(reverse("accounts:sign_in_second_step"), {"otp_token": "000000"})
    assert _failures(cast.bob) == 2
    assert _witness_with(cast.nurse, cast.bob, CAST_PASSWORD).signer == cast.bob
    assert _failures(cast.bob) == 2, "the right witness password cleared the wrong codes"
    password_known.post(reverse("accounts:sign_in_second_step"), {"otp_token": "000000"})
    answer = Client().post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
    assert "Account locked" in answer.content.decode()
    with pytest.raises(SecondSignatureRefused, match="locked"):
        _witness_with(cast.nurse, cast.bob, CAST_PASSWORD)


# --- links under a Host header the visitor chose -----------------------------------------------------------------

POISONED_HOST = "evil.example"
SITE = "http://127.0.0.1:8000"  # the demo's settings.SITE_URL


def _links_in(messages) -> list[str]:
    return [link for message in messages for link in re.findall(r"https?://[^\s\"'<>]+", message.body)]


def _all_at_the_site(links: list[str]) -> bool:
    return bool(links) and all(link.startswith(SITE + "/") for link in links)


def test_emailed_links_start_with_the_practice_s_address_whatever_host_the_request_named(cast, settings):
    """Behind a proxy that passes any Host on (or with ALLOWED_HOSTS left wide), a reset asked for under
    Host: evil.example would mail the patient a link to evil.example, which collects her token when she clicks it.
    Every link a request makes is built from settings.SITE_URL: the reset, the portal invitation, the staff set-up
    link, and the calendar subscription link shown once on its page."""
    settings.ALLOWED_HOSTS = ["*"]
    assert settings.SITE_URL == SITE
    cast.alice_user.email = "alice@mail.example"
    cast.alice_user.save()
    Client().post(reverse("accounts:password_reset"), {"identifier": "alice"}, HTTP_HOST=POISONED_HOST)
    assert _all_at_the_site(_links_in(mail.outbox)), _links_in(mail.outbox)
    mail.outbox.clear()
    cast.dana.user = None
    cast.dana.save()
    cast.dana_user.delete()
    invited = signed_in_client(cast.charlie).post(
        reverse("patients:portal_invite", args=[cast.dana.pk]), HTTP_HOST=POISONED_HOST
    )
    assert invited.status_code == 302
    assert _all_at_the_site(_links_in(mail.outbox)), _links_in(mail.outbox)
    mail.outbox.clear()
    added = signed_in_client(cast.admin).post(
        reverse("accounts:staff"),
        {
            "username": "dr.new",
            "first_name": "Nia",
            "last_name": "New",
            "email": "nia@practice.example",
            "role": "prescriber",
        },
        HTTP_HOST=POISONED_HOST,
    )
    assert added.status_code == 302 and len(mail.outbox) == 1
    assert _all_at_the_site(_links_in(mail.outbox)), _links_in(mail.outbox)
    page = signed_in_client(cast.bob).post(reverse("program:calendar"), {"action": "issue"}, HTTP_HOST=POISONED_HOST)
    shown = re.search(r'value="([^"]+/calendar/feed/[^"]+)"', page.content.decode())
    assert shown and _all_at_the_site([shown[1]]), shown


def test_a_calendar_feed_s_events_keep_one_identity_whichever_host_fetched_it(cast, settings):
    """A UID ending in the request's host made a calendar fetched under two names (the practice's, an internal one)
    show each session twice, and named whatever host the fetcher chose inside the feed."""
    settings.ALLOWED_HOSTS = ["*"]
    cast.dosing_session()
    bob = signed_in_client(cast.bob)
    feeds = [
        bob.get(reverse("program:my_calendar"), HTTP_HOST=host).content.decode() for host in ("a.example", "b.example")
    ]
    uids = [sorted(re.findall(r"^UID:(.+?)\r?$", feed, re.M)) for feed in feeds]
    assert uids[0] and uids[0] == uids[1]
    assert all(uid.endswith("@127.0.0.1") for uid in uids[0]), uids[0]


# --- a code used twice -------------------------------------------------------------------------------------------


def _code_now(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key):06d}"


def _sign_in(code: str, *, second_step: bool = False) -> Client:
    client = Client()
    if second_step:
        client.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
        client.post(reverse("accounts:sign_in_second_step"), {"otp_token": code})
    else:
        client.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD, "otp_token": code})
    return client


def _signed_in(client: Client) -> bool:
    return client.get(reverse("patients:list")).status_code == 200


@pytest.mark.parametrize("second_step", [False, True], ids=["with-the-password", "at-the-second-step"])
def test_a_code_that_signed_in_once_signs_no_one_in_again_within_its_window(cast, second_step):
    """Whoever watched bob type his code (over a shoulder, in a screen recording) and knows his password has the
    30 seconds of its window, and the step before and after that the check tolerates for a phone's clock: a code
    that has been used is refused however soon it comes again, and counts as a wrong code."""
    code = _code_now(cast.bob)
    assert _signed_in(_sign_in(code, second_step=second_step))
    again = _sign_in(code, second_step=second_step)
    assert not _signed_in(again)
    assert _failures(cast.bob) == 1


def test_a_code_that_confirmed_an_enrolment_does_not_then_sign_in(cast):
    """The code typed to confirm a new authenticator app (someone watching the set-up) is spent with it."""
    TOTPDevice.objects.filter(user=cast.bob).delete()
    client = Client()
    client.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD})
    client.get(reverse("accounts:two_factor_setup"))
    device = TOTPDevice.objects.get(user=cast.bob)
    code = f"{totp(device.bin_key):06d}"
    assert client.post(reverse("accounts:two_factor_setup"), {"otp_token": code}).status_code == 302
    assert not _signed_in(_sign_in(code))


def test_a_recovery_code_signs_in_once(cast):
    recovery = StaticDevice.objects.create(user=cast.bob, name="backup", confirmed=True)
    recovery.token_set.create(token="rcv12345")
    assert _signed_in(_sign_in("rcv12345"))
    assert not _signed_in(_sign_in("rcv12345", second_step=True))
    assert not recovery.token_set.exists()


def test_holding_a_verified_session_alone_enrols_no_second_device(cast, settings):
    """Someone who finds bob's desktop signed in cannot add their own authenticator app or passkey to his login, so
    as to sign in as him later: the enrolment page is for a login with no second factor yet, and a passkey asks
    for his password again once the sign-in's is older than a few minutes."""
    bob = signed_in_client(cast.bob)
    answer = bob.get(reverse("accounts:two_factor_setup"))
    assert answer.status_code == 302 and not TOTPDevice.objects.filter(user=cast.bob, confirmed=False).exists()
    assert bob.post(reverse("accounts:two_factor_setup"), {"otp_token": "123456"}).status_code == 302
    assert TOTPDevice.objects.filter(user=cast.bob).count() == 1
    session = bob.session
    session["kapstone_identity_confirmed_at"] -= settings.CONFIRM_IDENTITY_MINUTES * 60 + 1
    session.save()
    for step in ("accounts:passkey_enrol_begin", "accounts:passkey_enrol_complete"):
        answer = bob.post(reverse(step), "{}", content_type="application/json")
        assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:confirm_identity")), step
    assert not WebAuthnCredential.objects.filter(user=cast.bob).exists()


# --- rights changed or ended under an open session ----------------------------------------------------------------


def test_a_role_changed_under_an_open_session_holds_from_the_next_request(cast):
    """Bob's role is read with his login on every request, never kept in the session: made a researcher, his open
    session opens no record; made a patient's login (a slip in the admin's database), no staff page at all."""
    bob = signed_in_client(cast.bob)
    record = reverse("patients:detail", args=[cast.alice.pk])
    assert bob.get(record).status_code == 200
    type(cast.bob).objects.filter(pk=cast.bob.pk).update(role=Role.RESEARCHER)
    assert bob.get(record).status_code in (403, 404)
    assert bob.get(reverse("patients:list")).status_code in (403, 404)
    type(cast.bob).objects.filter(pk=cast.bob.pk).update(role=Role.PATIENT)
    assert bob.get(reverse("home:home")).status_code in (302, 403, 404)
    assert bob.get(record).status_code in (302, 403, 404)


def test_a_clinician_taken_off_the_care_team_under_an_open_session_is_told_the_record_does_not_exist(cast):
    therapist = signed_in_client(cast.therapist)
    record = reverse("patients:detail", args=[cast.alice.pk])
    assert therapist.get(record).status_code == 200
    CareTeamMembership.objects.filter(patient=cast.alice, staff=cast.therapist).delete()
    assert therapist.get(record).status_code == 404
    listed = therapist.get(reverse("patients:list")).content.decode()
    assert "Abernathy" not in listed


LOGIN_PAGES = {"accounts:keep_alive", "accounts:password_change", "program:calendar"}


def test_a_patient_whose_record_is_closed_sees_nothing_of_it_on_any_page_and_no_server_error(cast):
    """A record closed (is_active off: a patient discharged from the practice) keeps her login until staff end it;
    under her open session every page of her data the matrix opens to her is not found: her portal's pages were,
    but her journal's pictures and her messages' attachments were still served, read by her login alone."""
    failed, skipped = [], []
    for name, route in sorted(ROUTES.items()):
        if "alice_user" not in route.allow or route.public:
            continue
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                skipped.append(name)
                continue
            alice = signed_in_client(cast.alice_user)
            alice.raise_request_exception = False
            type(cast.alice).objects.filter(pk=cast.alice.pk).update(is_active=False)
            answer = getattr(alice, route.method)(url)
            body = b"".join(answer.streaming_content) if answer.streaming else answer.content
            # Her own pages are not found; her password and the calendar's download link are her login's, not data.
            if answer.status_code != 404 and name not in LOGIN_PAGES or b"Abernathy" in body or b"1980" in body:
                failed.append((name, answer.status_code))
    assert failed == [], failed
    assert len(skipped) < 3, skipped


# --- what a researcher reads ------------------------------------------------------------------------------------------


def _mark_each_text_column() -> dict[str, str]:
    """Every free-text column of every row made so far holds a mark of its own (the table and column it names)."""
    from django.apps import apps
    from django.db import IntegrityError, models, transaction

    from tests.test_security_probes_round3 import NOT_TYPED

    marks = {}
    for model in apps.get_models():
        meta = model._meta
        if (meta.app_label, meta.model_name) in NOT_TYPED or meta.db_table.startswith(
            ("audit_", "django_", "axes_", "auth_")
        ):
            continue
        for field in meta.concrete_fields:
            if (
                isinstance(field, models.CharField | models.TextField)
                and not field.choices
                and not field.unique
                and (field.max_length or 100) >= 8
            ):
                mark = f"ZQX{len(marks):04d}"
                try:
                    with transaction.atomic():
                        if model._base_manager.update(**{field.name: mark}):
                            marks[mark] = f"{meta.db_table}.{field.column}"
                except IntegrityError:  # a table its trigger keeps as written (the controlled-substance ledger)
                    continue
    return marks


def _researcher_reads(cast) -> dict[str, str]:
    """The text of every page and file the researcher can open: each GET page the matrix lets them open, and every
    text file of the research export."""
    researcher = signed_in_client(cast.researcher)
    researcher.raise_request_exception = False
    read = {}
    for name, route in sorted(ROUTES.items()):
        if "researcher" not in route.allow or route.method != "get" or route.public or name.endswith("_pdf"):
            continue
        url = route_url(name, route, cast)
        if url is not None:
            read[name] = researcher.get(url).content.decode(errors="replace")
    export = researcher.post(reverse("outcomes:research_export"))
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        for member in archive.namelist():
            if not member.endswith(".parquet"):  # the same rows as the CSV beside it, compressed
                read[member] = archive.read(member).decode(errors="replace")
    return read


# Columns that are no one's typing: codes Kapstone sets from its catalogues (an instrument, a questionnaire's occasion,
# a course template, a creativity task's form, a vitals alert's level, a diagnosis's ICD-10 code).
CODED = {
    "creativity_creativityadministration.form_id",
    "dosing_vitalsreading.alert_level",
    "measures_assessment.instrument_id",
    "measures_assessment.occasion",
    "patients_diagnosis.icd10_code",
    "program_group.template_id",
}


def test_no_page_or_file_a_researcher_opens_holds_any_text_staff_or_patients_typed(cast):
    """Safe Harbor takes names, addresses and free text out. Every free-text column of every row behind alice's
    course (her record, a note, a journal entry, a message, an alert's note, a group's and a room's name, an
    outside clinician) is given a mark of its own; no mark reaches the report or the research export."""
    build_practice()
    _alice_everywhere(cast)
    marks = _mark_each_text_column()
    assert len(marks) > 40, len(marks)
    shown = sorted(
        (marks[mark], where)
        for where, text in _researcher_reads(cast).items()
        for mark in set(re.findall(r"ZQX\d{4}", text))
        if marks.get(mark) not in CODED
    )
    assert shown == [], "\n".join(map(str, shown))


# --- a receipt sent twice --------------------------------------------------------------------------------------------


def _receive(cast, *, invoice: str = "INV-7001", lot: str = "L-701", received_on=None):
    """A box of ten 100 mg lozenges of `lot`, on `invoice`, checked by bob's password."""
    from kapstone.dosing import services as dosing_services
    from tests.dosing.helpers import SUPPLIER_DEA_NUMBER, registered_location

    registered_location("Main safe")
    return dosing_services.lot_receive(
        actor=cast.nurse,
        checked_by=_witness_with(cast.nurse, cast.bob, CAST_PASSWORD),
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number=lot,
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        containers=1,
        units_per_container=10,
        supplier_name="Synthetic Wholesale",
        supplier_dea_number=SUPPLIER_DEA_NUMBER,
        invoice_number=invoice,
        received_on=received_on,
    )


def test_the_same_delivery_received_twice_is_refused_and_the_balance_counts_it_once(cast):
    """The receipt form sent again (a second click on a slow page, the browser re-sending it, two nurses each
    unpacking the same box) booked the stock twice: the next count then found 1000 mg missing, and a missing amount
    of a controlled substance is a loss report to the DEA. The same lot on the same invoice or packing slip from the
    same supplier, received the same day, is refused; another lot of that invoice, or that lot on another paper or
    day, is received."""
    from kapstone.dosing.models import LotBalance
    from kapstone.dosing.services import DosingError

    _receive(cast)
    with pytest.raises(DosingError, match="already recorded"):
        _receive(cast)
    assert LotBalance.objects.get(lot__lot_number="L-701").balance_mg == Decimal("1000")
    _receive(cast, lot="L-702")
    _receive(cast, invoice="PS-7002")
    _receive(cast, received_on=datetime.date.today() - datetime.timedelta(days=1))
    assert LotBalance.objects.get(lot__lot_number="L-701").balance_mg == Decimal("3000")


# --- raced on PostgreSQL ------------------------------------------------------------------------------------------


@pytest.fixture
def on_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL (CI runs the suite there too)")


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_received_by_two_staff_at_once_is_booked_once(cast, on_postgresql):
    """Two nurses unpacking one box at two desks: the lot's row lock puts the second receipt after the first, which
    it then finds. (The lot is in the log already, from yesterday's delivery: a new lot's unique number would
    order the two anyway.)"""
    from kapstone.dosing.models import LotBalance, Receipt
    from kapstone.dosing.services import DosingError
    from tests.concurrency import all_at_once

    _receive(cast, invoice="INV-7000", received_on=datetime.date.today() - datetime.timedelta(days=1))
    failures = all_at_once([functools.partial(_receive, cast) for _ in range(2)])
    assert [type(failure) for failure in failures] == [DosingError], failures
    assert Receipt.objects.filter(entry__lot__lot_number="L-701").count() == 2
    assert LotBalance.objects.get(lot__lot_number="L-701").balance_mg == Decimal("2000")


@pytest.mark.django_db(transaction=True)
def test_one_code_sent_by_two_sign_ins_at_once_signs_in_one(cast, on_postgresql):
    """Whoever watched the code typed sends it at the same moment as its owner: django-otp reads the device under a
    row lock (match_token), so the second finds the code spent."""
    from tests.concurrency import all_at_once

    code = _code_now(cast.bob)
    clients = [Client(), Client()]
    assert all_at_once([functools.partial(_sign_in_with, client, code) for client in clients]) == []
    assert sorted(_signed_in(client) for client in clients) == [False, True]


def _sign_in_with(client: Client, code: str) -> None:
    client.post(reverse("accounts:login"), {"username": "bob", "password": CAST_PASSWORD, "otp_token": code})


@pytest.mark.django_db(transaction=True)
def test_a_questionnaire_submitted_from_two_tabs_at_once_is_scored_and_alerted_once(cast, on_postgresql):
    from kapstone.measures import services as measures_services
    from kapstone.measures.models import Assessment, CriticalAlert
    from tests.concurrency import all_at_once
    from tests.measures.factories import PHQ9_ITEM9, due_assessment

    assessment = due_assessment(cast.alice)
    submit = functools.partial(
        measures_services.assessment_save_answers,
        actor=cast.alice_user,
        assessment=assessment,
        answers=PHQ9_ITEM9,
        submit=True,
    )
    failures = all_at_once([submit, submit])
    assert [type(failure) for failure in failures] == [measures_services.NotOpen], failures
    assert Assessment.objects.get(pk=assessment.pk).status == Assessment.Status.COMPLETED
    assert CriticalAlert.objects.filter(assessment=assessment).count() == 1
    submitted = AuditEvent.objects.filter(object_type="assessment", object_id=str(assessment.pk))
    assert [event.detail_data["submitted"] for event in submitted] == [True]


@pytest.mark.django_db(transaction=True)
def test_one_alert_acknowledged_by_two_clinicians_at_once_keeps_one_acknowledgement(cast, on_postgresql):
    from kapstone.measures import services as measures_services
    from kapstone.measures.models import CriticalAlert
    from tests.concurrency import all_at_once
    from tests.measures.factories import open_alert

    alert = open_alert(cast.alice)
    failures = all_at_once(
        [
            functools.partial(measures_services.alert_acknowledge, actor=clinician, alert=alert, note=f"Called, {name}")
            for clinician, name in ((cast.bob, "bob"), (cast.therapist, "theo"))
        ]
    )
    assert [str(failure) for failure in failures] == ["This alert was already acknowledged."]
    alert = CriticalAlert.objects.get(pk=alert.pk)
    assert alert.acknowledgement_note == f"Called, {alert.acknowledged_by.get_username()}"
    acknowledged = AuditEvent.objects.filter(
        object_type="critical_alert", object_id=str(alert.pk), detail__contains='"acknowledged":true'
    )
    assert [event.actor_id for event in acknowledged] == [alert.acknowledged_by_id]


# --- pictures that carry a script ---------------------------------------------------------------------------------

DRAWING = {"prompt": "free", "activity": "drawing", "activity_minutes": "30"}
SCRIPTED_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/patients/")</script></svg>'


def test_a_picture_that_carries_a_script_is_refused_or_served_without_it(cast):
    """An SVG runs its script when opened as a page at Kapstone's address; a PNG with a page appended after its
    end (a polyglot) is a picture to a browser and a page to whatever sniffs it. Neither the journal nor a message
    takes the SVG, and the PNG is kept re-encoded, its tail gone, and served as the picture it is."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kapstone.integration.models import JournalEntry
    from kapstone.messaging.models import Message
    from tests.integration_app.factories import png_bytes
    from tests.messaging.factories import alice_thread

    alice = signed_in_client(cast.alice_user)
    thread = alice_thread(cast)
    for content_type in ("image/svg+xml", "image/png"):
        svg = SimpleUploadedFile("drawing.svg", SCRIPTED_SVG, content_type=content_type)
        answer = alice.post(reverse("integration:journal_new"), {**DRAWING, "image": svg})
        assert answer.status_code == 400 and "JPEG, PNG or WebP" in answer.content.decode()
        assert not JournalEntry.objects.exists()
        svg.seek(0)
        answer = alice.post(reverse("messaging:my_thread", args=[thread.pk]), {"body": "", "attachment": svg})
        assert answer.status_code == 400 and "JPEG, PNG or WebP" in answer.content.decode()
        assert not Message.objects.exclude(attachment="").exists()
    polyglot = png_bytes() + b"<html><script>alert(document.cookie)</script></html>"
    picture = SimpleUploadedFile("drawing.png", polyglot, content_type="image/png")
    answer = alice.post(reverse("integration:journal_new"), {**DRAWING, "image": picture})
    assert answer.status_code == 302, re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)', answer.content.decode())
    entry = JournalEntry.objects.get()
    served = alice.get(reverse("integration:journal_image", args=[entry.pk]))
    body = b"".join(served.streaming_content)
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"
    assert body.startswith(b"\x89PNG") and b"<script" not in body


# --- numbers and dates no one means -----------------------------------------------------------------------------------

ODD_NUMBERS = ["NaN", "-Infinity", "99999999999999999999", "-1", "١٢"]
# The calendar's ends, a leap day that is not one, and an hour the practice's clocks skip (America/New_York, spring).
ODD_DATES = ["0001-01-01", "9999-12-31", "2026-02-29"]
ODD_MOMENTS = ["0001-01-01T00:00", "9999-12-31T23:59", "2026-03-08T02:30"]


def _field_names_by_kind() -> dict[str, set[str]]:
    """The name of every number, date and date-and-time field of every form class (a page may draw it with a
    prefix)."""
    from django import forms

    from tests.faults.test_form_fuzz import every_form, every_formset

    classes = [*every_form(), *(formset.form for _, formset in every_formset())]
    kinds: dict[str, set[str]] = {"number": set(), "date": set(), "moment": set()}
    for form_class in classes:
        for name, field in form_class.base_fields.items():
            if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
                kinds["number"].add(name)
            elif isinstance(field, forms.DateTimeField):
                kinds["moment"].add(name)
            elif isinstance(field, forms.DateField):
                kinds["date"].add(name)
    return kinds


def test_every_number_and_date_field_of_every_drawn_form_takes_odd_values_without_a_server_error_or_a_write(cast):
    """Hypothesis spoils a few fields of each form each run (tests/faults/test_view_fuzz.py); here every number and
    date field of every form a page draws is sent, one at a time, each value no one means: not a number, infinite,
    past a column's range, negative, in Arabic-Indic digits; the first and last days of the calendar,
    the 29th of February of a common year, an hour the clocks skip. Each answer is a page, a refusal writes nothing,
    and where a value is taken the page it leads to opens (a day at the calendar's end, plus a day, would fail)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.faults.test_view_fuzz import _drawn_forms, _table_digest
    from tests.probes import tables_written

    kinds = _field_names_by_kind()
    odd = {"number": ODD_NUMBERS, "date": ODD_DATES, "moment": ODD_MOMENTS}
    problems, sent = [], 0
    drawn = _drawn_forms(cast)
    for view, forms_drawn in sorted(drawn.items()):
        form = forms_drawn[0]
        for name in form.fields:
            kind = next((kind for kind, names in kinds.items() if name.rsplit("-", 1)[-1] in names), None)
            for value in odd.get(kind, []):
                with rolled_back():
                    client = Client() if form.role == "anonymous" else signed_in_client(cast.user(form.role))
                    client.raise_request_exception = False
                    connection.queries_log.clear()
                    with CaptureQueriesContext(connection) as queries:
                        answer = client.post(form.action, {**form.fields, name: value})
                    sent += 1
                    # A statement a refusal's own transaction rolled back changed nothing: the rows are compared.
                    after_request = {table: _table_digest(table) for table in tables_written(queries)}
                    if answer.status_code >= 500:
                        problems.append((view, name, value, answer.status_code))
                    elif answer.status_code in (302, 303) and after_request:
                        later = client.get(answer["Location"])
                        if later.status_code >= 500:
                            problems.append((view, name, value, "then", answer["Location"], later.status_code))
                if 400 <= answer.status_code < 500:
                    changed = sorted(table for table, digest in after_request.items() if _table_digest(table) != digest)
                    if changed:
                        problems.append((view, name, value, answer.status_code, changed))
    assert problems == [], "\n".join(map(str, problems))
    assert sent > 100, sent


# --- another patient's rows named in a form ---------------------------------------------------------------------------


def test_a_consultation_naming_another_patient_s_outside_clinician_is_refused_by_form_and_service(cast):
    """Alice's consultation form lists her own outside team; a body naming dana's psychiatrist by id would have
    counted his advice towards alice's enrolment gate. The form does not take it, nor does the service."""
    from kapstone.patients.models import ExternalClinician
    from kapstone.screening import services as screening_services
    from kapstone.screening.models import Consultation
    from tests.screening.test_views import consultation_post

    danas = ExternalClinician.objects.create(patient=cast.dana, name="Dr. Quill", kind="psychiatrist")
    answer = signed_in_client(cast.bob).post(
        reverse("screening:consultation_add", kwargs={"patient_id": cast.alice.pk}),
        consultation_post(staff=cast.bob.pk, clinician_name="", external_clinician=danas.pk),
    )
    assert answer.status_code == 400 and not Consultation.objects.exists()
    with pytest.raises(screening_services.ScreeningRefused, match="not on this patient's outside treatment team"):
        screening_services.consultation_record(
            actor=cast.bob,
            patient=cast.alice,
            external_clinician=danas,
            staff=cast.bob,
            contacted_at=timezone.now() - datetime.timedelta(hours=1),
            method="phone",
            outcome="supports",
            notes="",
        )
    assert not Consultation.objects.exists()


def test_a_username_typed_as_markup_at_sign_in_is_shown_as_text_on_the_security_screen(cast, settings):
    """Anyone can type any username at sign-in: django-axes keeps it (its table is outside the markup probe of
    round 3), and the admins' screen lists it with an Unlock button named after it."""
    settings.AXES_FAILURE_LIMIT = 2
    typed = '"><script>alert(1)</script>'
    for _ in range(2):
        Client().post(reverse("accounts:login"), {"username": typed, "password": WRONG})
    page = signed_in_client(cast.admin).get(reverse("accounts:security")).content.decode()
    assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- the headers of every page ----------------------------------------------------------------------------------------


def test_every_route_sends_the_protective_headers_whatever_it_answers(cast):
    """Round 2 asked three pages, round 4 the refusals and the errors: here every route the matrix lists, asked by a
    role it lets through (a visitor, for a public one) as it is asked (GET or an empty POST), downloads and JSON
    included. No view sends a policy of its own that is looser than the site's."""
    from django.conf import settings

    missing, skipped = [], []
    for name, route in sorted(ROUTES.items()):
        role = "anonymous" if route.public or not route.allow else min(route.allow)
        with rolled_back():
            url = route_url(name, route, cast)
            if url is None:
                skipped.append(name)
                continue
            client = Client() if role == "anonymous" else signed_in_client(cast.user(role))
            client.raise_request_exception = False
            answer = getattr(client, route.method)(url)
            headers = {
                "Content-Security-Policy": {settings.CONTENT_SECURITY_POLICY},
                "X-Frame-Options": {"DENY"},
                "X-Content-Type-Options": {"nosniff"},
                # A password link's page names no path even to its own style sheet (round 1): the link is in it.
                "Referrer-Policy": {"same-origin", "strict-origin", "no-referrer"},
                "Cross-Origin-Opener-Policy": {"same-origin"},
            }
            wrong = {
                header: answer.get(header) for header, values in headers.items() if answer.get(header) not in values
            }
            if wrong or "no-store" not in answer.get("Cache-Control", ""):
                missing.append((name, role, answer.status_code, wrong, answer.get("Cache-Control")))
    assert missing == [], "\n".join(map(str, missing))
    assert len(skipped) < 5, skipped
