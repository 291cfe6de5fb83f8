"""The crisis lines as the portal, alert and message pages draw them (measures/includes/crisis_lines.html): a line's
label is the practice's own words, so what the links add must not say again what the label already says."""

import html as entities
import re

import pytest
from django.template.loader import render_to_string
from django.utils.html import strip_tags

from kapstone.measures.portal_settings import crisis_resources
from kapstone.practice.settings_store import practice_value_set

pytestmark = pytest.mark.django_db


def drawn(cast, label: str, contact: str = "988") -> str:
    lines = [{"label": label, "contact": contact}]
    practice_value_set(actor=cast.admin, key="measures.crisis_resources", value=lines, reason="Test")
    html = render_to_string("measures/includes/crisis_lines.html", {"lines": crisis_resources()})
    return " ".join(entities.unescape(strip_tags(html)).split())


def test_the_default_988_line_says_call_and_text_once_each():
    html = render_to_string("measures/includes/crisis_lines.html", {"lines": crisis_resources()})
    text = " ".join(entities.unescape(strip_tags(html)).split())
    assert "988 Suicide & Crisis Lifeline (US): call 988 · text 988" in text
    assert 'href="tel:988">call 988</a>' in html and 'href="sms:988">text 988</a>' in html


@pytest.mark.parametrize(
    "label",
    [
        "988 Suicide & Crisis Lifeline (US): call or text",
        "988 Lifeline, call or text 988",
        "Lifeline (text)",
        "Lifeline - text or call",
        "Lifeline: call/text",
        "Crisis Text Line",
        "call or text",
        "Lifeline (call or text any time)",
    ],
)
def test_a_line_that_takes_texts_never_says_call_or_text_twice(cast, label):
    text = drawn(cast, label).lower()
    assert len(re.findall(r"\bcall\b", text)) <= 1 and len(re.findall(r"\btext\b", text)) <= 1, text
    assert "::" not in text and "sms" not in text


def test_a_line_that_takes_only_calls_shows_its_label_and_number_as_before(cast):
    assert drawn(cast, "Samaritans (UK)", "116 123") == "Samaritans (UK): 116 123"
