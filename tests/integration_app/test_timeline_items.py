"""The timeline's items drawn in Python (integration_tags.timeline_items) say what the template's loop said, for the
staff's and the patient's own view, in every state of an item and of a journal entry."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import engines
from django.utils import timezone

from kapstone.integration.models import JournalEntry
from kapstone.integration.selectors import TimelineItem
from kapstone.integration.templatetags.integration_tags import timeline_items
from tests.parity import between_tags

OLD_ITEMS = (Path(__file__).parent / "timeline_item_template.html").read_text()
AT = datetime.datetime(2026, 10, 25, 0, 30, tzinfo=datetime.UTC)  # the night the clocks go back in Europe


def _items() -> list[TimelineItem]:
    items = [
        TimelineItem(AT, "session", "Dosing session", " · Willow <room> & co"),
        TimelineItem(AT + datetime.timedelta(hours=5), "dose", "Dose given", "200 mg, sublingual lozenge"),
        TimelineItem(AT, "score", "PHQ9", ""),
        TimelineItem(AT, "note", 'Integration note by "Theo" <Tran>', "line one\nline two"),
    ]
    entries = itertools.product(
        ["", "Dear diary,\r\nit was <b>bright</b> & 'calm'.\n\nEnd."],  # text
        [None, 0, 7],  # mood
        [("", None), ("drawing", 30), ("music", None)],  # activity, minutes
        ["", "journal/2026/picture.png"],  # image
        [False, True],  # shared with the care team
    )
    for number, (text, mood, (activity, minutes), image, shared) in enumerate(entries, start=1):
        entry = JournalEntry(
            pk=number,
            text=text,
            mood=mood,
            activity=activity,
            activity_minutes=minutes,
            image=image,
            shared_with_care_team=shared,
        )
        kind = "creative" if activity else "journal"
        items.append(TimelineItem(AT + datetime.timedelta(days=number), kind, "Journal entry", "", entry))
    return items


@pytest.mark.parametrize("zone", ["Europe/London", "Pacific/Auckland"])
@pytest.mark.parametrize("own", [False, True])
def test_the_items_drawn_in_python_are_the_templates_items(zone, own):
    items = _items()
    with timezone.override(zone):
        old = engines["django"].from_string(OLD_ITEMS).render({"items": items, "own": own})
        new = timeline_items(items, own)
    assert between_tags(new) == between_tags(old)
    assert "<br>" in new and "&lt;b&gt;bright&lt;/b&gt;" in new and ("Shared with my care team" in new) is own
