"""Secure messages: threads between a patient and their care team, pictures checked as journal pictures are, a
notification that says only that there is a message, unread counts, and the crisis screen."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.integration.models import Notification
from kapstone.measures.crisis import crisis_phrases_in
from kapstone.messaging import services
from kapstone.messaging.models import Message
from kapstone.practice.signals import safety_event
from tests.integration_app.factories import png_bytes
from tests.messaging.factories import alice_thread


@pytest.fixture
def raised():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    safety_event.connect(receiver, dispatch_uid="test-messaging-safety-event")
    yield events
    safety_event.disconnect(dispatch_uid="test-messaging-safety-event")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Some days I want to die.", ["want to die"]),
        ("I CAN’T GO ON like this", ["can't go on"]),
        ("I have been thinking about suicide", ["suicide"]),
        ("My self-harm urges are back", ["self-harm"]),
        ("The session was lovely, see you Tuesday", []),
        ("I read about dietary supplements", []),
    ],
)
def test_the_crisis_screen_matches_listed_phrases_as_whole_words(text, found):
    assert crisis_phrases_in(text) == found


def test_a_patient_writes_and_the_care_team_reads_it_and_replies(cast, client_for):
    alice = client_for(cast.alice_user)
    response = alice.post(reverse("messaging:my_threads"), {"subject": "Tuesday", "body": "Can I eat before?"})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.from_patient and message.thread.patient == cast.alice
    assert AuditEvent.objects.filter(object_type="message", object_id=str(message.pk), patient_id=cast.alice.pk)

    inbox = client_for(cast.bob).get(reverse("messaging:inbox")).content.decode()
    assert "Alice Abernathy" in inbox
    url = reverse("messaging:thread", args=[cast.alice.pk, message.thread_id])
    bob = client_for(cast.bob)
    assert "Can I eat before?" in bob.get(url).content.decode()
    assert "Alice Abernathy" not in bob.get(reverse("messaging:inbox")).content.decode()  # read now
    assert bob.post(url, {"body": "Nothing after midnight, please."}).status_code == 302
    assert "1 new" in alice.get(reverse("messaging:my_threads")).content.decode()


def test_the_patient_is_told_only_that_there_is_a_message(cast):
    thread = alice_thread(cast)
    services.message_send(actor=cast.nurse, thread=thread, body="Your lab results are normal.")
    notification = Notification.objects.get(kind="secure_message")
    assert "lab results" not in notification.body and "lab results" not in notification.subject
    assert all("lab results" not in m.body for m in mail.outbox)


def test_a_message_mentioning_a_crisis_shows_the_resources_and_raises_a_review_alert(
    cast, client_for, raised, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        thread = alice_thread(cast)
    assert raised == []  # the first, ordinary message raised nothing
    alice = client_for(cast.alice_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            reverse("messaging:my_thread", args=[thread.pk]), {"body": "I want to kill myself tonight"}
        )
    assert response.status_code == 200 and "Help is available now" in response.content.decode()
    assert "988" in response.content.decode()
    message = Message.objects.get(body__startswith="I want")
    assert message.mentions_crisis
    assert raised == [
        {
            "signal": safety_event,
            "kind": "message_crisis_keyword",
            "level": "review",
            "patient_id": cast.alice.pk,
            "summary": "A secure message from the patient mentions a crisis; read it and reach out.",
            "object_type": "message",
            "object_id": message.pk,
        }
    ]


def test_a_staff_message_with_a_crisis_word_raises_nothing(cast, raised, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(actor=cast.bob, thread=alice_thread(cast), body="We talked about suicide risk today.")
    assert raised == []


def test_too_long_a_message_or_a_refused_file_is_refused_with_a_message(cast, client_for):
    thread = alice_thread(cast)
    alice = client_for(cast.alice_user)
    url = reverse("messaging:my_thread", args=[thread.pk])
    response = alice.post(url, {"body": "x" * 5001})
    assert response.status_code == 400 and "at most 5,000 characters" in response.content.decode()
    svg = SimpleUploadedFile("drawing.svg", b"<svg onload='alert(1)'/>", content_type="image/svg+xml")
    response = alice.post(url, {"body": "see attached", "attachment": svg})
    assert response.status_code == 400 and "not a picture we can read" in response.content.decode()
    big = SimpleUploadedFile("big.png", b"\0" * (5 * 1024 * 1024 + 1), content_type="image/png")
    response = alice.post(url, {"body": "", "attachment": big})
    assert response.status_code == 400 and "larger than 5 MB" in response.content.decode()
    assert thread.messages.count() == 1


def test_an_attached_picture_is_reencoded_and_seen_by_the_care_team(cast, client_for):
    thread = alice_thread(cast)
    picture = SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")
    client_for(cast.alice_user).post(
        reverse("messaging:my_thread", args=[thread.pk]), {"body": "", "attachment": picture}
    )
    message = thread.messages.exclude(attachment="").get()
    response = client_for(cast.therapist).get(reverse("messaging:attachment", args=[message.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client_for(cast.charlie).get(reverse("messaging:attachment", args=[message.pk])).status_code == 404


def test_a_clinician_outside_the_team_cannot_write_to_the_patient(cast):
    with pytest.raises(services.MessageRefused):
        services.thread_start(actor=cast.charlie, patient=cast.alice, subject="Hi", body="Hello")
    with pytest.raises(services.MessageRefused):
        services.message_send(actor=cast.dana_user, thread=alice_thread(cast), body="Hello")


def test_admins_see_unread_threads_per_staff_member(cast, client_for):
    alice_thread(cast)
    client_for(cast.therapist).get(
        reverse("messaging:thread", args=[cast.alice.pk, cast.alice.message_threads.get().pk])
    )
    page = client_for(cast.admin).get(reverse("messaging:inbox"))
    by_staff = {row.label: row.count for row in page.context["by_staff"]}
    assert by_staff == {cast.bob.display_name: 1, cast.nurse.display_name: 1}


def test_an_empty_message_is_refused(cast, client_for):
    response = client_for(cast.alice_user).post(reverse("messaging:my_threads"), {"subject": "Hi", "body": "  "})
    assert response.status_code == 400 and "Write a message or attach a picture" in response.content.decode()


def test_messages_are_part_of_the_record_and_audited_when_read(cast, client_for):
    thread = alice_thread(cast)
    client_for(cast.bob).get(reverse("messaging:thread", args=[cast.alice.pk, thread.pk]))
    assert AuditEvent.objects.filter(object_type="message_thread", object_id=str(thread.pk), actor_label="bob").exists()


def test_the_patients_reply_box_says_when_messages_are_read_and_what_to_do_in_a_crisis(cast, client_for):
    thread = alice_thread(cast)
    mine = client_for(cast.alice_user).get(reverse("messaging:my_thread", args=[thread.pk])).content.decode()
    reply = mine[mine.index('<h2 id="reply-h">') :]
    assert "read by your care team during opening hours" in reply and "call or text 988" in reply
    staff_url = reverse("messaging:thread", args=[cast.alice.pk, thread.pk])
    staff = client_for(cast.bob).get(staff_url).content.decode()
    assert "read by your care team during opening hours" not in staff
