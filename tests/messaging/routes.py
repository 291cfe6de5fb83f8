from django.core.files.base import ContentFile

from kapstone.messaging.models import Message
from tests.conftest import Cast
from tests.integration_app.factories import png_bytes
from tests.matrix import ALICE_RECORD, PATIENTS, RECORD_STAFF, Route
from tests.messaging.factories import alice_thread, change_request, upcoming_session


def alice_thread_id(cast: Cast) -> dict:
    return {"thread_id": alice_thread(cast).pk}


def alice_staff_thread(cast: Cast) -> dict:
    return {"patient_id": cast.alice.pk, "thread_id": alice_thread(cast).pk}


def alice_picture(cast: Cast) -> dict:
    message = alice_thread(cast).messages.get()
    message._attachment_extension = "png"
    Message.objects.filter(pk=message.pk).update(attachment_content_type="image/png")
    message.attachment.save("x", ContentFile(png_bytes()))
    return {"message_id": message.pk}


def alice_upcoming_session(cast: Cast) -> dict:
    return {"session_id": upcoming_session(cast).pk}


def alice_request(cast: Cast) -> dict:
    return {"request_id": change_request(cast).pk}


ROUTES = {
    "messaging:my_threads": Route(allow=PATIENTS),
    "messaging:my_thread": Route(allow={"alice_user"}, not_found={"dana_user"}, kwargs=alice_thread_id),
    "messaging:inbox": Route(allow=RECORD_STAFF),
    "messaging:patient_threads": Route(**ALICE_RECORD),
    "messaging:thread": Route(**{**ALICE_RECORD, "kwargs": alice_staff_thread}),
    "messaging:attachment": Route(
        allow={"alice_user", "admin", "bob", "therapist", "nurse"},
        not_found={"dana_user", "charlie"},
        kwargs=alice_picture,
    ),
    # POST-only: an empty POST is refused with a message and a redirect, after access is decided.
    "messaging:request_change": Route(
        allow={"alice_user"}, not_found={"dana_user"}, kwargs=alice_upcoming_session, method="post"
    ),
    "messaging:request_decide": Route(**{**ALICE_RECORD, "kwargs": alice_request, "method": "post"}),
}
