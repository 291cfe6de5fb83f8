"""The patient's audit trail says what happened in plain words, keeping the stored code beside them."""

import html
import re
from pathlib import Path

from django.urls import reverse

import kapstone
from kapstone.audit import labels
from kapstone.audit import services as audit
from kapstone.audit.models import Action
from kapstone.patients.forms import RECORD_PART_FORMS
from kapstone.program.services import SESSION_MOVE_AUDIT_TYPE

SOURCE = Path(kapstone.__file__).parent


def codes_the_apps_write() -> set[str]:
    """Every object type an app passes to audit.record as a literal, the dosing room's "dose_record.<what>", the
    record parts' kinds and the session move's named code."""
    codes = {SESSION_MOVE_AUDIT_TYPE, *RECORD_PART_FORMS}
    for module in SOURCE.rglob("*.py"):
        if "migrations" in module.parts:
            continue
        text = module.read_text()
        codes |= set(re.findall(r'object_type="([^"]+)"', text))
        if module == SOURCE / "dosing" / "services.py":
            codes |= {f"dose_record.{what}" for what in re.findall(r'_audit\(\s*record,\s*"([a-z_]+)"', text)}
    return codes


def test_every_code_the_apps_write_has_plain_words():
    missing = sorted(codes_the_apps_write() - set(labels.OBJECT_WORDS))
    assert not missing, f"give these audit codes plain words in audit/labels.py: {missing}"
    assert {"dose_record.order", "dose_record.administration", "group_session.move"} <= codes_the_apps_write()


def test_every_action_has_plain_words():
    assert set(labels.ACTION_WORDS) == set(Action.values)


def test_a_code_without_words_is_still_said_readably():
    assert labels.object_words("journal_image") == "Journal image"
    assert labels.object_words("dose_record.something_new") == "Dosing record: something new"
    assert labels.object_words("brand_new_thing") == "Brand new thing"
    assert labels.object_words("") == ""
    assert labels.object_words("...") == ""
    assert labels.action_words("archive") == "Archive"


def trail_cells(response) -> str:
    return html.unescape(response.content.decode())


def test_the_trail_page_says_what_happened_in_plain_words_and_keeps_the_code(cast, client_for):
    audit.record(action=Action.UPDATE, patient=cast.alice, object_type="dose_record.order", object_id=7)
    audit.record(action=Action.CREATE, patient=cast.alice, object_type="safety_plan", object_id=3)
    response = client_for(cast.admin).get(reverse("patients:audit", args=[cast.alice.pk]))
    assert response.status_code == 200
    page = trail_cells(response)
    assert re.search(r"<td>Changed</td>\s*<td>Dose order #7 <code[^>]*>dose_record.order</code>", page)
    assert re.search(r"<td>Added</td>\s*<td>Safety plan #3 <code[^>]*>safety_plan</code>", page)
    assert "<td>Update</td>" not in page and "<td>Create</td>" not in page


def test_an_unknown_code_on_the_trail_is_shown_readably_not_an_error(cast, client_for):
    audit.record(action=Action.READ, patient=cast.alice, object_type="retired_widget.inspection")
    response = client_for(cast.admin).get(reverse("patients:audit", args=[cast.alice.pk]))
    assert response.status_code == 200
    assert re.search(r"<td>Viewed</td>\s*<td>Retired widget: inspection <code", trail_cells(response))
