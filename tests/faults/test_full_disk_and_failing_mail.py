"""A full disk on upload and a mailbox that refuses mail: nothing half-saved, nothing lost, nobody else held up."""

import datetime
import errno

import pytest
from django.core import mail
from django.core.files.storage import InMemoryStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.integration import services
from kapstone.integration.models import JournalEntry, Notification, NotificationPreference
from kapstone.integration.notifications import CHANNELS, EmailChannel
from tests.conftest import signed_in_client
from tests.integration_app.factories import png_bytes

NO_QUIET = {"quiet_start": datetime.time(0), "quiet_end": datetime.time(0)}


class FullDisk(InMemoryStorage):
    def _save(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_on_upload_saves_nothing_and_says_so(cast, monkeypatch):
    monkeypatch.setattr(JournalEntry._meta.get_field("image"), "storage", FullDisk())
    upload = SimpleUploadedFile("drawing.png", png_bytes(), content_type="image/png")
    response = signed_in_client(cast.alice_user).post(
        reverse("integration:journal_new"),
        {"prompt": "free", "text": "kept in the form", "activity": "drawing", "activity_minutes": "5", "image": upload},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "could not be stored just now" in page and "kept in the form" in page
    assert not JournalEntry.objects.exists()
    assert not AuditEvent.objects.filter(object_type="journal_entry").exists()


class RefusesOne(EmailChannel):
    """A mail server that refuses one mailbox and delivers to every other."""

    def __init__(self, refused: str):
        self.refused = refused

    def send(self, *, to, subject, body, idempotency_key):
        if to == self.refused:
            raise ConnectionRefusedError("550 mailbox unavailable")
        super().send(to=to, subject=subject, body=body, idempotency_key=idempotency_key)


def test_smtp_failing_for_one_recipient_delivers_to_the_others_and_retries_that_one(cast, monkeypatch):
    monkeypatch.setitem(CHANNELS, "email", RefusesOne(cast.alice.email))
    queued = []
    for patient in (cast.alice, cast.dana):
        NotificationPreference.objects.create(patient=patient, **NO_QUIET)
        queued += services.notify(patient=patient, kind="test", dedupe_key=f"p{patient.pk}", subject="Hi", body="x")
    outcomes = [services.notification_deliver(notification_id=n.pk) for n in queued]
    assert outcomes == ["retry_later", Notification.Status.SENT]
    assert [m.to for m in mail.outbox] == [[cast.dana.email]]
    alice = Notification.objects.get(pk=queued[0].pk)
    assert alice.status == Notification.Status.PENDING and alice.attempts == 1


@pytest.fixture(autouse=True)
def _no_real_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
