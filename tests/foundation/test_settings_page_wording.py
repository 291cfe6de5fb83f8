"""The practice settings page shows a chosen option in words, as its select offers it, never its stored code."""

import re

from django.urls import reverse

from kapstone.practice.settings_store import practice_value_set
from tests.conftest import signed_in_client

KEY = "screening.interaction_outcome_maoi"


def setting_card(page: str) -> str:
    return re.search(
        r'<section class="card setting" id="setting-screening-interaction_outcome_maoi".*?</section>', page, re.S
    )[0]


def test_a_choice_setting_reads_in_words_in_force_as_default_and_in_its_select(cast):
    card = setting_card(signed_in_client(cast.bob).get(reverse("practice:settings")).content.decode())
    shown = re.sub(r"<[^>]+>", " ", card.replace(f'value="{KEY}"', ""))
    # The default in force is not printed twice.
    assert re.search(r"In force\s+needs review", shown) and re.search(r"Cited default\s+the same", shown)
    assert '<option value="needs_review" selected>needs review</option>' in card
    assert "needs_review" not in re.sub(r'(id|for|value|aria-\w+)="[^"]*"', "", card)


def test_a_practice_value_shows_the_cited_default_beside_it(cast):
    practice_value_set(actor=cast.bob, key=KEY, value="caution", reason="Our MAOI protocol.")
    card = setting_card(signed_in_client(cast.bob).get(reverse("practice:settings")).content.decode())
    shown = re.sub(r"<[^>]+>", " ", card.replace(f'value="{KEY}"', ""))
    assert re.search(r"In force\s+caution", shown) and re.search(r"Cited default\s+needs review", shown)
