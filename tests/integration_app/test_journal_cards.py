"""The journal's cards drawn in Python (integration_tags.journal_cards) are the template's loop's, byte for byte, in
every state of an entry; and the journal page reads the entries in one query, however many there are."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.integration.models import JournalEntry
from kapstone.integration.templatetags.integration_tags import journal_cards
from tests.conftest import signed_in_client
from tests.integration_app.factories import journal_entry

# Its comment line and the newline that ends the file are not part of the loop.
OLD_CARDS = (Path(__file__).parent / "journal_card_template.html").read_text().split("\n", 1)[1].removesuffix("\n")
AT = datetime.datetime(2026, 10, 25, 0, 30, tzinfo=datetime.UTC)  # the night the clocks go back in Europe


def _entries() -> list[JournalEntry]:
    long_text = " ".join(f"word{number}" for number in range(60))
    states = itertools.product(
        ["", "Dear diary,\r\nit was <b>bright</b> & 'calm'.", long_text],  # text
        [None, 0, 7],  # mood
        [("", None), ("drawing", 30), ("music", None)],  # activity, minutes
        ["free", "insights", ""],  # prompt
        [False, True],  # shared with the care team
    )
    return [
        JournalEntry(
            pk=number,
            text=text,
            mood=mood,
            activity=activity,
            activity_minutes=minutes,
            prompt=prompt,
            shared_with_care_team=shared,
            created_at=AT + datetime.timedelta(days=number, minutes=number),
        )
        for number, (text, mood, (activity, minutes), prompt, shared) in enumerate(states, start=1)
    ]


@pytest.mark.parametrize("zone", ["Europe/London", "Pacific/Auckland"])
def test_the_cards_drawn_in_python_are_the_templates_cards(zone):
    entries = _entries()
    with timezone.override(zone):
        old = engines["django"].from_string(OLD_CARDS).render({"entries": entries})
        new = journal_cards(entries)
    assert new == old
    assert "&lt;b&gt;bright&lt;/b&gt;" in new and "word39 …" in new


def test_the_journal_reads_its_entries_in_one_query_however_many(cast):
    client = signed_in_client(cast.alice_user)
    journal_entry(cast.alice, text="first", at=AT)
    client.get(reverse("integration:journal"))
    with CaptureQueriesContext(connection) as one:
        page = client.get(reverse("integration:journal")).content.decode()
    for number in range(5):
        journal_entry(cast.alice, text=f"more {number}", at=AT + datetime.timedelta(hours=number), mood=number)
    with CaptureQueriesContext(connection) as six:
        more = client.get(reverse("integration:journal")).content.decode()
    assert len(six) == len(one)
    assert page.count("journal-card") == 1 and more.count("journal-card") == 6
    assert "No entries match" in client.get(reverse("integration:journal"), {"q": "absent"}).content.decode()


def test_the_journal_and_timeline_read_each_patient_their_own_entries(cast):
    """The journal's and the timeline's reads are compiled once for every patient (issue 19): bound to each, a
    second patient's pages, read after the first's, show none of the first's entries."""
    journal_entry(cast.alice, text="Alice's own words", at=AT)
    alice, dana = signed_in_client(cast.alice_user), signed_in_client(cast.dana_user)
    for name in ("integration:journal", "integration:my_timeline"):
        assert "Alice&#x27;s own words" in alice.get(reverse(name)).content.decode()
        assert "Alice" not in dana.get(reverse(name)).content.decode()
