"""Security probes, fifth round: guessing a password through the form that changes it; where a password link goes
after the address on a patient's record is corrected; what a staff login half signed in (a password but no second
factor yet, or the second step under way) reaches; the session key through a staff sign-in; formulas in every
downloaded CSV, spelt with each character a spreadsheet starts one with; whose address the sign-in limits count
behind the practice's reverse proxy; links and feeds of a deactivated login; line breaks in a calendar feed; upload
names and declared types; and the work a sign-in does for a login no one has. tests/test_security_probes.py and
rounds 2 to 4 hold the earlier rounds."""

import csv
import datetime
import io

from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.accounts import tasks as accounts_tasks
from kapstone.accounts.models import AccountLink
from kapstone.accounts.services import account_link_create
from kapstone.audit.models import AuditEvent
from kapstone.creativity.services import CreativityError
from tests.conftest import signed_in_client
from tests.foundation.test_login import current_code
from tests.test_permission_matrix import ROUTES

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-brand-new-long-passphrase"


class _RolledBack(Exception):
    """Each route's rows are made, probed and rolled back on their own, as the permission matrix makes them."""


# --- the form that changes a password -----------------------------------------------------------------------------


def _change_password(client: Client, old: str):
    return client.post(
        reverse("accounts:password_change"),
        {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def test_wrong_old_passwords_on_the_change_form_lock_the_login_and_end_the_session(cast, settings):
    """Whoever finds a session left open (a shared family computer, a clinic desktop) could send the change form's
    old password as often as they liked: no guess was counted, so they could find the password, keep it, and choose a
    new one that shuts its owner out. Each wrong one now counts as a wrong password at sign-in; at the limit the login
    is locked, this session ends, and the right password then changes nothing."""
    client = signed_in_client(cast.alice_user)
    answers = [_change_password(client, f"guess number {n}").status_code for n in range(settings.AXES_FAILURE_LIMIT)]
    assert answers[:-1] == [400] * (settings.AXES_FAILURE_LIMIT - 1)
    assert answers[-1] == 429, "the guess that reached the limit locks the login"
    assert AccessAttempt.objects.get(username="alice").failures_since_start == settings.AXES_FAILURE_LIMIT
    right = _change_password(client, PASSWORD)
    assert right.status_code == 302 and right.url.startswith(reverse("accounts:login")), "signed out"
    cast.alice_user.refresh_from_db()
    assert cast.alice_user.check_password(PASSWORD) and not cast.alice_user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="logout", actor_id=cast.alice_user.pk).exists()
    locked = Client().post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429


def test_the_right_old_password_still_changes_it_after_a_slip(cast):
    client = signed_in_client(cast.bob)
    assert _change_password(client, "not my password").status_code == 400
    assert _change_password(client, PASSWORD).status_code == 302
    cast.bob.refresh_from_db()
    assert cast.bob.check_password(NEW_PASSWORD)
    assert client.get(reverse("home:home")).status_code == 200, "this session carries on"


# --- where a password link goes -----------------------------------------------------------------------------------


def _record_email_set(cast, email: str):
    return signed_in_client(cast.bob).post(
        reverse("patients:edit", args=[cast.alice.pk]),
        {
            "given_name": "Alice",
            "family_name": "Abernathy",
            "date_of_birth": "1980-05-17",
            "sex": "female",
            "email": email,
            "phone": "555-0100",
        },
    )


def test_a_password_link_goes_to_the_address_now_on_the_record_not_the_one_corrected(cast):
    """A patient's login kept the address of its invitation. Staff correct a wrong address (a typo that reached a
    stranger, a mailbox an ex-partner reads): a reset asked for afterwards still went to the old mailbox, and whoever
    read it chose the patient's password and read her portal. A link already waiting there ends as well."""
    cast.alice_user.email = "alice@old.example"
    cast.alice_user.save()
    waiting = account_link_create(
        user=cast.alice_user, purpose=AccountLink.Purpose.PASSWORD_RESET, lifetime=datetime.timedelta(hours=1)
    )
    assert _record_email_set(cast, "alice@new.example").status_code == 302
    for identifier in ("alice@new.example", "alice@old.example", "alice"):
        mail.outbox.clear()
        AccountLink.objects.all().delete()  # the interval between two reset messages is not what is probed here
        accounts_tasks.send_password_reset(identifier, "127.0.0.1")
        sent = [message.to for message in mail.outbox]
        assert sent in ([["alice@new.example"]], []), (identifier, sent)
        assert sent or identifier == "alice@old.example", identifier
    cast.alice_user.refresh_from_db()
    assert cast.alice_user.username == "alice", "she signs in as before"
    answer = Client().post(
        reverse("accounts:set_password", args=[waiting]), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert answer.status_code == 400
    changed = AuditEvent.objects.get(object_type="login_email")
    assert "new.example" not in str(changed.detail) and "old.example" not in str(changed.detail)


def test_an_address_removed_from_the_record_receives_no_password_link(cast):
    cast.alice_user.email = "alice@old.example"
    cast.alice_user.save()
    assert _record_email_set(cast, "").status_code == 302
    accounts_tasks.send_password_reset("alice@old.example", "127.0.0.1")
    accounts_tasks.send_password_reset("alice", "127.0.0.1")
    assert mail.outbox == []


# --- half signed in -----------------------------------------------------------------------------------------------


def _password_only(username: str) -> Client:
    client = Client(raise_request_exception=False)
    client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    return client


def test_a_staff_login_with_a_password_but_no_second_factor_yet_reaches_only_its_enrolment(cast):
    """A new staff member, or one whose second factor an admin reset, is signed in by the password alone until they
    enrol an authenticator app: every page but the public ones sends them to the enrolment (or the sign-in), by GET
    and POST, and nothing of anyone's is shown on the way."""
    TOTPDevice.objects.filter(user__in=[cast.admin, cast.bob]).delete()
    clients = {"admin": _password_only("admin"), "bob": _password_only("bob")}
    for client in clients.values():
        assert "_auth_user_id" in client.session
    reached = []
    for name, route in sorted(ROUTES.items()):
        if route.public:
            continue
        try:
            with transaction.atomic():
                try:
                    url = reverse(name, kwargs=route.kwargs(cast))
                except (ObjectDoesNotExist, CreativityError):  # rows that clash with the cast's: the matrix asks it
                    raise _RolledBack from None
                for role, client in clients.items():
                    for method in ("get", "post"):
                        answer = getattr(client, method)(url)
                        if answer.status_code == 405:
                            continue
                        if answer.status_code != 302 or not answer.url.startswith(
                            (reverse("accounts:two_factor_setup"), reverse("accounts:login"))
                        ):
                            reached.append((name, role, method, answer.status_code))
                raise _RolledBack
        except _RolledBack:
            pass
    assert reached == [], reached
    assert clients["bob"].get(reverse("accounts:two_factor_setup")).status_code == 200


def test_a_staff_login_between_its_password_and_its_code_reaches_no_page_and_its_key_changes_at_each_step(cast):
    """During the second step nobody is signed in: no page opens. The session key changes when the password is
    accepted and again when the code is, so a key learnt at any earlier step opens nothing afterwards."""
    cookie = django_settings.SESSION_COOKIE_NAME
    client = Client()
    session = client.session
    session["planted"] = True
    session.save()
    keys = [client.cookies[cookie].value]
    client.post(reverse("accounts:login"), {"username": "bob", "password": PASSWORD})
    keys.append(client.cookies[cookie].value)
    for name, args in (
        ("patients:detail", [cast.alice.pk]),
        ("patients:list", []),
        ("home:home", []),
        ("accounts:two_factor_setup", []),
    ):
        answer = client.get(reverse(name, args=args))
        assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login")), name
    assert client.post(reverse("accounts:sign_in_second_step"), {"otp_token": current_code(cast.bob)}).url == reverse(
        "home:home"
    )
    keys.append(client.cookies[cookie].value)
    assert len(set(keys)) == 3, "a new key at the password and at the code"
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
    for earlier in keys[:2]:
        replayed = Client()
        replayed.cookies[cookie] = earlier
        answer = replayed.get(reverse("patients:detail", args=[cast.alice.pk]))
        assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login"))


# --- formulas in every downloaded CSV -----------------------------------------------------------------------------

# What a spreadsheet runs when a cell starts with it, as someone types it into a journal or a payment's reference.
FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://evil.example")']


def _cells(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return [cell for row in list(csv.reader(io.StringIO(response.content.decode())))[1:] for cell in row]


def test_no_downloaded_csv_holds_a_cell_a_spreadsheet_runs(cast):
    """The journal a patient exports and the accountant's export of payments, each with a row per formula: every
    one arrives as text (a leading apostrophe), and an amount (a negative number) stays a number. (The controlled-
    substance log is probed in the first round, the research export in tests/outcomes/test_export.py.)"""
    from tests.billing.factories import paid
    from tests.integration_app.factories import journal_entry

    for formula in FORMULAS:
        journal_entry(cast.alice, text=formula, shared=False)
        paid(cast, "10.00", reference=formula[:40])
    journal = _cells(signed_in_client(cast.alice_user).get(reverse("integration:journal_export"), {"format": "csv"}))
    today = datetime.date.today().isoformat()
    billing = _cells(signed_in_client(cast.admin).get(reverse("billing:export"), {"start": today, "end": today}))
    # A payment's reference is kept without its surrounding spaces: its tab and carriage return go before it is saved.
    for cells, kept in ((journal, FORMULAS), (billing, [formula.strip() for formula in FORMULAS])):
        assert {"'" + formula for formula in kept} <= set(cells)
        assert [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")] == []
        assert [
            cell for cell in cells if cell.startswith("-") and not cell.replace(".", "").lstrip("-").isdigit()
        ] == []
    assert "-10.00" in billing


# --- the address of whoever signs in, behind the practice's proxy --------------------------------------------------

PROXY = "172.18.0.1"  # what every request's REMOTE_ADDR is behind the compose file's proxy


def _fail_from(forwarded_for: str | None, *, username: str):
    extra = {"REMOTE_ADDR": PROXY} | ({"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {})
    return Client(**extra).post(reverse("accounts:login"), {"username": username, "password": "wrong-password-here"})


def _sign_in_from(forwarded_for: str | None):
    extra = {"REMOTE_ADDR": PROXY} | ({"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {})
    return Client(**extra).post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})


def test_behind_the_proxy_one_person_s_failed_sign_ins_do_not_refuse_everyone(cast, settings):
    """Production runs behind a reverse proxy (compose sets BEHIND_PROXY), so every request arrived from the proxy's
    address: one person's failed sign-ins at any usernames reached the address limit for all, and refused every
    patient's and clinician's sign-in for the cool-off. The client's address is the one the proxy appended to
    X-Forwarded-For; an entry the client wrote to its left is not read, so it cannot spread its failures either."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 8
    for index in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT):
        # Each with a made-up address to the left of the one the proxy appended.
        assert _fail_from(f"10.9.{index}.1, 203.0.113.5", username=f"guess{index}").status_code == 200
    assert _sign_in_from("203.0.113.5").status_code == 429, "the guesser's own address is refused"
    assert _sign_in_from("10.9.0.1, 203.0.113.5").status_code == 429, "whatever it writes before it"
    answer = _sign_in_from("198.51.100.7")
    assert answer.status_code == 302 and answer.url == reverse("portal:home"), "another patient signs in"
    signed_in = AuditEvent.objects.filter(action="login", actor_id=cast.alice_user.pk).latest("pk")
    assert signed_in.ip_address == "198.51.100.7"


def test_without_a_proxy_a_forwarded_for_header_is_the_client_s_own_and_is_ignored(cast, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 4
    for index in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT):
        _fail_from(f"10.9.{index}.1", username=f"guess{index}")
    assert _sign_in_from("198.51.100.7").status_code == 429, "a new header each time does not make a new address"
    assert AuditEvent.objects.filter(object_type="sign_in_failed").exclude(ip_address=PROXY).count() == 0


def test_a_proxy_header_that_holds_no_address_falls_back_to_the_connection_s(settings):
    from django.test import RequestFactory

    from kapstone.audit.middleware import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory(REMOTE_ADDR=PROXY)
    for header in ("", "not-an-address", "203.0.113.5:4431", ", ", "1.2.3.4, <script>"):
        assert client_ip(factory.get("/", HTTP_X_FORWARDED_FOR=header)) == PROXY, header
    assert client_ip(factory.get("/")) == PROXY
    assert client_ip(factory.get("/", HTTP_X_FORWARDED_FOR="2001:db8::1")) == "2001:db8::1"


# --- a staff login deactivated, and reactivated ---------------------------------------------------------------------


def test_a_link_sent_before_a_login_was_deactivated_does_not_work_again_when_it_is_reactivated(cast):
    """A set-up link mailed to a wrong address, or a reset link asked for by someone else, is dealt with by
    deactivating the login: while it is inactive no link opens it, but the link stayed unspent, so reactivating the
    login (the address corrected, days later within the set-up link's lifetime) made it work again for whoever held
    it. Deactivating ends the links; the admin sends a new one."""
    links = [
        account_link_create(user=cast.nurse, purpose=purpose, lifetime=datetime.timedelta(hours=72))
        for purpose in (AccountLink.Purpose.STAFF_SETUP, AccountLink.Purpose.PASSWORD_RESET)
    ]
    admin = signed_in_client(cast.admin)
    for action in ("deactivate", "reactivate"):
        answer = admin.post(reverse("accounts:staff_action", args=[cast.nurse.pk, action]), {"confirm": "yes"})
        assert answer.status_code == 302, action
    cast.nurse.refresh_from_db()
    assert cast.nurse.is_active
    for token in links:
        url = reverse("accounts:set_password", args=[token])
        assert Client().get(url).status_code == 400
        assert Client().post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 400
    cast.nurse.refresh_from_db()
    assert cast.nurse.check_password(PASSWORD)


def test_a_deactivated_staff_member_s_calendar_feed_and_second_step_open_nothing(cast):
    from kapstone.program import services as program_services

    cast.dosing_session()
    feed = reverse("program:feed", args=[program_services.feed_token_issue(user=cast.bob)])
    assert Client().get(feed).status_code == 200
    half_way = Client()
    half_way.post(reverse("accounts:login"), {"username": "bob", "password": PASSWORD})
    signed_in_client(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]), {"confirm": "yes"}
    )
    assert Client().get(feed).status_code == 404
    answer = half_way.post(reverse("accounts:sign_in_second_step"), {"otp_token": current_code(cast.bob)})
    assert answer.status_code == 302 and answer.url.startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in half_way.session


# --- a calendar feed ------------------------------------------------------------------------------------------------


def test_a_calendar_feed_keeps_typed_names_on_their_own_line_and_drops_a_patient_who_left_the_group(cast):
    """A calendar app reads each line of the feed as a property: a group or room name typed with a line break
    must not add one (an attendee, an alarm, a link of another's). A patient withdrawn from the group no longer
    gets its sessions in her feed, so its video links stop reaching her calendar."""
    from kapstone.program import services as program_services
    from kapstone.program.models import Enrolment, Group, Room

    session = cast.dosing_session()
    Group.objects.filter(pk=session.group_id).update(name="Tuesday\r\nATTENDEE:mailto:evil@evil.example\r\nX-A:1")
    Room.objects.filter(pk=session.room_id).update(name="Willow\nURL:https://evil.example/")
    feed = reverse("program:feed", args=[program_services.feed_token_issue(user=cast.alice_user)])
    lines = Client().get(feed).content.decode().splitlines()
    assert any(line.startswith("SUMMARY:Tuesday") for line in lines)
    assert not [line for line in lines if line.startswith(("ATTENDEE", "X-A:", "URL:"))], lines
    enrolment = Enrolment.objects.get(group=session.group, patient=cast.alice)
    program_services.withdraw(actor=cast.bob, enrolment=enrolment, reason="Moved away")
    assert "SUMMARY" not in Client().get(feed).content.decode()


# --- uploads named and typed by whoever sends them ------------------------------------------------------------------


def test_an_upload_s_name_and_declared_type_decide_neither_where_it_is_kept_nor_how_it_is_served(cast, settings):
    """A picture sent with a name that climbs out of the media folder and a declared type of HTML is kept under
    Kapstone's own name inside the folder and served as the picture it is; markup sent as an outside clinician's
    reply (plain text by its bytes) leaves only as a text file to save, never a page the browser runs."""
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from kapstone.messaging.models import Message
    from kapstone.screening.models import Consultation
    from tests.integration_app.factories import png_bytes
    from tests.messaging.factories import alice_thread
    from tests.screening.test_views import consultation_post

    thread = alice_thread(cast)
    climbing = SimpleUploadedFile("../../../../tmp/evil.html", png_bytes(), content_type="text/html")
    answer = signed_in_client(cast.alice_user).post(
        reverse("messaging:my_thread", args=[thread.pk]), {"body": "", "attachment": climbing}
    )
    assert answer.status_code == 302
    message = Message.objects.exclude(attachment="").get()
    stored = Path(message.attachment.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve()) and "evil" not in stored.name
    served = signed_in_client(cast.bob).get(reverse("messaging:attachment", args=[message.pk]))
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"

    markup = SimpleUploadedFile("..\\reply.html", b"<html><script>alert(1)</script></html>", content_type="text/html")
    answer = signed_in_client(cast.bob).post(
        reverse("screening:consultation_add", kwargs={"patient_id": cast.alice.pk}),
        consultation_post(staff=cast.bob.pk, reply_file=markup),
    )
    assert answer.status_code == 302
    entry = Consultation.objects.get()
    assert Path(entry.reply_file.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    download = signed_in_client(cast.bob).get(reverse("screening:reply", kwargs={"consultation_id": entry.pk}))
    assert download["Content-Type"] == "text/plain" and download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;") and ".txt" in download["Content-Disposition"]


# --- who has a login, told by the work a sign-in does -----------------------------------------------------------------


def test_a_sign_in_does_the_same_password_work_for_a_login_no_one_has_as_for_a_wrong_password(cast, monkeypatch):
    """Timed, a sign-in that hashed a password only when the username existed would tell which usernames (a
    patient's is their email address) have a login. Each answer hashes once, whether the login exists, is a
    patient's or a staff member's, or is deactivated."""
    from django.contrib.auth.hashers import get_hashers

    hashed, depth = [], [0]

    def counted(real):
        def wrapped(self, *args, **kwargs):
            hashed.append(depth[0] == 0)  # a check that encodes inside is one hash, not two
            depth[0] += 1
            try:
                return real(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        return wrapped

    for hasher in {type(hasher) for hasher in get_hashers()}:  # the test settings' fast hasher, as production's
        for name in ("encode", "verify"):
            monkeypatch.setattr(hasher, name, counted(getattr(hasher, name)))
    cast.nurse.is_active = False
    cast.nurse.save()
    answers = {}
    for username in ("alice", "bob", "nina", "nobody@mail.example"):
        hashed.clear()
        answer = Client().post(reverse("accounts:login"), {"username": username, "password": "wrong-password-here"})
        answers[username] = (answer.status_code, sum(hashed))
    assert set(answers.values()) == {(200, 1)}, answers
