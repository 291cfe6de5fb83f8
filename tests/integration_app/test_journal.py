import csv
import io
import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from kapstone.audit.models import AuditEvent
from kapstone.integration.models import JournalEntry
from tests.conftest import signed_in_client
from tests.integration_app.factories import journal_entry, png_bytes


def post_entry(client, **fields):
    data = {"prompt": "insights", "text": "", "mood": "", "activity": "", "activity_minutes": "", **fields}
    return client.post(reverse("integration:journal_new"), data)


def test_a_patient_writes_a_private_entry_with_a_mood_rating(cast):
    client = signed_in_client(cast.alice_user)
    response = post_entry(client, text="The colours felt loud", mood="7")
    assert response.status_code == 302
    entry = JournalEntry.objects.get(patient=cast.alice)
    assert (entry.text, entry.mood, entry.shared_with_care_team) == ("The colours felt loud", 7, False)
    assert "The colours felt loud" in client.get(reverse("integration:journal")).content.decode()


def test_the_form_says_no_one_watches_the_journal_and_gives_the_crisis_lines(cast):
    page = signed_in_client(cast.alice_user).get(reverse("integration:journal_new")).content.decode()
    assert "Your care team is not told straight away when you write or share an entry" in page
    assert 'href="tel:988"' in page


def test_sharing_an_entry_says_the_care_team_is_not_told_straight_away(cast):
    client = signed_in_client(cast.alice_user)
    response = post_entry(client, text="A hard night.", share="on")
    assert response.status_code == 302
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert said[0].startswith("Saved your entry and shared it with your care team. Your care team sees shared entries")
    assert "not straight away" in said[0] and "988" in said[0]
    entry = JournalEntry.objects.get()
    client.post(reverse("integration:journal_share", args=[entry.pk]), {"shared": ""})
    response = client.post(reverse("integration:journal_share", args=[entry.pk]), {"shared": "on"})
    assert "not straight away" in [str(m) for m in get_messages(response.wsgi_request)][-1]


def test_a_private_entry_is_saved_without_the_notice(cast):
    response = post_entry(signed_in_client(cast.alice_user), text="Only for me.")
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["Saved your entry."]


def test_an_empty_entry_is_refused_with_a_clear_message(cast):
    response = post_entry(signed_in_client(cast.alice_user))
    assert response.status_code == 400
    assert "Write something, rate your mood or log a creative activity." in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_a_mood_outside_zero_to_ten_is_refused(cast):
    response = post_entry(signed_in_client(cast.alice_user), text="x", mood="11")
    assert response.status_code == 400
    assert not JournalEntry.objects.exists()


def test_a_creative_activity_needs_its_minutes(cast):
    response = post_entry(signed_in_client(cast.alice_user), activity="music")
    assert response.status_code == 400
    assert "Say for how many minutes." in response.content.decode()


def test_a_painting_is_stored_under_a_random_name_and_re_encoded(cast):
    image = SimpleUploadedFile("my-face-at-home.png", png_bytes(), content_type="image/png")
    client = signed_in_client(cast.alice_user)
    response = client.post(
        reverse("integration:journal_new"),
        {"prompt": "free", "activity": "drawing", "activity_minutes": "30", "image": image},
    )
    assert response.status_code == 302
    entry = JournalEntry.objects.get()
    assert entry.image.name.startswith("journal/") and "face" not in entry.image.name
    assert entry.image.name.endswith(".png") and entry.image_content_type == "image/png"
    served = client.get(reverse("integration:journal_image", args=[entry.pk]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (8, 8)


@pytest.mark.parametrize(
    ("name", "content", "content_type", "message"),
    [
        ("notes.txt", b"just some text", "text/plain", "not a picture we can read"),
        ("holiday.png", b"MZ\x90\x00 this is really a program", "image/png", "not a picture we can read"),
        (
            "drawing.jpg",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "image/jpeg",
            "not a picture we can read",
        ),
        ("huge.png", png_bytes() + b"\x00" * (5 * 1024 * 1024), "image/png", "larger than 5 MB"),
    ],
    ids=["text", "disguised-program", "disguised-svg", "oversized"],
)
def test_uploads_that_are_not_small_pictures_are_refused(cast, name, content, content_type, message):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = signed_in_client(cast.alice_user).post(
        reverse("integration:journal_new"),
        {"prompt": "free", "activity": "drawing", "activity_minutes": "10", "image": upload},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_a_gif_is_refused_even_though_it_is_an_image(cast):
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    upload = SimpleUploadedFile("a.gif", out.getvalue(), content_type="image/gif")
    response = signed_in_client(cast.alice_user).post(
        reverse("integration:journal_new"),
        {"prompt": "free", "activity": "drawing", "activity_minutes": "5", "image": upload},
    )
    assert response.status_code == 400
    assert "JPEG, PNG or WebP" in response.content.decode()


def test_sharing_and_unsharing_an_entry(cast):
    entry = journal_entry(cast.alice, text="share me")
    client = signed_in_client(cast.alice_user)
    client.post(reverse("integration:journal_share", args=[entry.pk]), {"shared": "on"})
    entry.refresh_from_db()
    assert entry.shared_with_care_team and entry.shared_at is not None
    client.post(reverse("integration:journal_share", args=[entry.pk]), {})
    entry.refresh_from_db()
    assert not entry.shared_with_care_team and entry.shared_at is None


def test_search_finds_entries_with_every_word(cast):
    journal_entry(cast.alice, text="The ocean felt calm")
    journal_entry(cast.alice, text="Angry at work")
    page = signed_in_client(cast.alice_user).get(reverse("integration:journal"), {"q": "ocean calm"}).content.decode()
    assert "The ocean felt calm" in page and "Angry at work" not in page


def test_the_patient_exports_their_journal_as_csv_and_json_and_it_is_audited(cast):
    journal_entry(cast.alice, text='=HYPERLINK("http://evil")', mood=4)
    journal_entry(dana := cast.dana, text="dana's secret")
    assert dana
    client = signed_in_client(cast.alice_user)
    response = client.get(reverse("integration:journal_export"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Disposition"].startswith("attachment")
    assert [row["text"] for row in rows] == ['\'=HYPERLINK("http://evil")']
    data = json.loads(client.get(reverse("integration:journal_export"), {"format": "json"}).content)
    assert [entry["mood"] for entry in data["journal"]] == [4]
    assert AuditEvent.objects.filter(action="export", object_type="journal", patient_id=cast.alice.pk).count() == 2


def test_patients_choose_channels_and_quiet_hours_and_a_bad_zone_is_refused(cast):
    client = signed_in_client(cast.alice_user)
    data = {
        "by_email": "on",
        "by_sms": "on",
        "time_zone": "Europe/London",
        "quiet_start": "22:00",
        "quiet_end": "07:30",
    }
    assert client.post(reverse("integration:preferences"), data).status_code == 302
    preference = cast.alice.notification_preference
    assert preference.channels == ["email", "sms"] and str(preference.quiet_end) == "07:30:00"
    for zone in ("Mars/Olympus", "A" * 65):
        response = client.post(reverse("integration:preferences"), {**data, "time_zone": zone})
        assert response.status_code == 400 and "Choose your time zone from the list." in response.content.decode()
    assert cast.alice.notification_preference.time_zone == "Europe/London"


def test_the_time_zone_is_picked_from_a_list_of_places(cast):
    page = signed_in_client(cast.alice_user).get(reverse("integration:preferences")).content.decode()
    assert '<select name="time_zone"' in page
    assert '<option value="America/New_York" selected>America/New York</option>' in page
    assert 'value="US/Eastern"' not in page


def test_a_picture_is_not_left_in_storage_when_its_entry_cannot_be_saved(cast, monkeypatch):
    from django.core.files.storage import default_storage

    from kapstone.audit import services as audit
    from kapstone.integration.services import CleanImage, journal_entry_create

    stored, real_save = [], default_storage.save

    def recording_save(name, *args, **kwargs):
        stored.append(real_save(name, *args, **kwargs))
        return stored[-1]

    def audit_trail_unavailable(**kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(default_storage, "save", recording_save)
    monkeypatch.setattr(audit, "record", audit_trail_unavailable)
    with pytest.raises(RuntimeError):
        journal_entry_create(
            actor=cast.alice_user,
            patient=cast.alice,
            prompt="free",
            text="A painting of the sea",
            mood=None,
            activity="drawing",
            activity_minutes=30,
            image=CleanImage(png_bytes(), ".png", "image/png"),
        )
    assert len(stored) == 1 and not default_storage.exists(stored[0])
