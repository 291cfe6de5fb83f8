"""Journal pictures and text: a picture too large in pixels is refused before it is decoded, a missing file is a
404 listed for staff, a file a crash left without its row is swept, and every text field has a length limit."""

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from kapstone.audit.models import AuditEvent
from kapstone.integration import selectors, services
from kapstone.integration.forms import MAX_ENTRY_CHARACTERS
from kapstone.integration.models import JournalEntry
from tests.conftest import signed_in_client
from tests.integration_app.factories import journal_entry, png_bytes

LATER = datetime.timedelta(hours=2)


def bomb_png() -> bytes:
    """A 6,320 x 6,320 PNG of a few kilobytes, as in the issue: tiny on disk, 160 MB once decoded."""
    out = io.BytesIO()
    Image.new("1", (6320, 6320)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def post_picture(cast, content: bytes):
    upload = SimpleUploadedFile("big.png", content, content_type="image/png")
    return signed_in_client(cast.alice_user).post(
        reverse("integration:journal_new"),
        {"prompt": "free", "activity": "drawing", "activity_minutes": "10", "image": upload},
    )


def test_a_picture_with_too_many_pixels_is_refused_before_it_is_decoded(cast, monkeypatch):
    content = bomb_png()
    assert len(content) < 64 * 1024

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("decoded a picture that should have been refused from its header")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "verify", no_decoding)
    response = post_picture(cast, content)
    assert response.status_code == 400
    assert "too many pixels (6320 x 6320)" in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_a_phone_sized_picture_is_still_accepted(cast):
    assert post_picture(cast, png_bytes(size=(4032, 3024))).status_code == 302


def entry_with_picture(cast) -> JournalEntry:
    entry = journal_entry(cast.alice, text="my drawing", activity="drawing", activity_minutes=5, shared=True)
    entry.image.save("upload.png", ContentFile(png_bytes()), save=True)
    return entry


def test_a_picture_whose_file_is_missing_is_a_404_and_listed_for_staff(cast, caplog):
    entry = entry_with_picture(cast)
    entry.image.storage.delete(entry.image.name)
    for user in (cast.alice_user, cast.bob):
        response = signed_in_client(user).get(reverse("integration:journal_image", args=[entry.pk]))
        assert response.status_code == 404
    assert f"journal entry {entry.pk}" in caplog.text
    assert selectors.journal_uploads_check().missing == [entry.pk]
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 missing pictures"):
        call_command("check_uploads", stdout=out)
    assert f"the picture of journal entry {entry.pk} is not in storage" in out.getvalue()


def test_a_file_a_crash_left_without_its_row_is_swept_after_the_grace_period(cast):
    kept = entry_with_picture(cast)
    storage = kept.image.storage
    orphan = storage.save("journal/left-by-a-crash.png", ContentFile(png_bytes()))
    assert orphan not in selectors.journal_uploads_check().orphans  # it may still be a save under way
    later = timezone.now() + LATER
    # (The in-memory test storage outlives each test's rows, so earlier tests' files may be swept too.)
    assert orphan in services.journal_orphan_uploads_remove(now=later)
    assert not storage.exists(orphan) and storage.exists(kept.image.name)
    assert orphan in AuditEvent.objects.filter(object_type="journal_image.orphan").get().detail_data["files"]
    assert selectors.journal_uploads_check(now=later) == selectors.UploadsCheck(missing=[], orphans=[])


def test_check_uploads_passes_when_every_picture_has_its_entry(cast):
    entry_with_picture(cast)
    out = io.StringIO()
    call_command("check_uploads", stdout=out)
    assert "Every journal picture is in storage" in out.getvalue()


@pytest.mark.parametrize(
    "url, data",
    [
        ("integration:journal_new", {"prompt": "free", "text": "x" * (MAX_ENTRY_CHARACTERS + 1)}),
    ],
)
def test_text_past_its_limit_is_refused_with_a_message(cast, url, data):
    response = signed_in_client(cast.alice_user).post(reverse(url), data)
    assert response.status_code == 400
    assert "Ensure this value has at most" in response.content.decode()
