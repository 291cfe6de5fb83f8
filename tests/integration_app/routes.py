from django.core.files.base import ContentFile

from tests.conftest import Cast
from tests.integration_app.factories import journal_entry, png_bytes
from tests.matrix import ALICE_RECORD, PATIENTS, Route, alice

CLINICIANS_ON_TEAM = {"bob", "therapist", "nurse"}


def alice_entry(cast: Cast) -> dict:
    entry = cast.alice.journal_entries.first() or journal_entry(cast.alice, text="matrix entry")
    return {"entry_id": entry.pk}


def alice_shared_image(cast: Cast) -> dict:
    entry = journal_entry(cast.alice, text="a painting", shared=True, activity="drawing", activity_minutes=20)
    entry._image_extension = "png"
    entry.image_content_type = "image/png"
    entry.image.save("x", ContentFile(png_bytes()))
    return {"entry_id": entry.pk}


# Staff may not open a patient's portal pages at all (403); dana is told alice's entries do not exist (404).
ALICE_ONLY = dict(allow={"alice_user"}, not_found={"dana_user"}, kwargs=alice_entry)

ROUTES = {
    "integration:journal": Route(allow=PATIENTS),
    "integration:journal_new": Route(allow=PATIENTS),
    "integration:journal_export": Route(allow=PATIENTS),
    "integration:journal_entry": Route(**ALICE_ONLY),
    "integration:journal_share": Route(**ALICE_ONLY, method="post"),
    "integration:journal_image": Route(
        allow={"alice_user"} | CLINICIANS_ON_TEAM, not_found={"dana_user", "charlie"}, kwargs=alice_shared_image
    ),
    "integration:my_timeline": Route(allow=PATIENTS),
    "integration:preferences": Route(allow=PATIENTS),
    "integration:adherence": Route(allow={"admin", "bob", "therapist", "nurse", "charlie"}),
    "integration:timeline": Route(**ALICE_RECORD),
    "integration:note_add": Route(allow=CLINICIANS_ON_TEAM, not_found={"charlie"}, kwargs=alice, method="post"),
    "integration:psychotherapy_notes": Route(allow={"therapist"}, kwargs=alice),
}
