"""The practice settings page shows a chosen option in words, as its select offers it, never its stored code."""

import re

from django.urls import reverse

from tests.conftest import signed_in_client

KEY = "screening.interaction_outcome_maoi"


def setting_card(page: str) -> str:
    return re.search(
        r'<section class="card setting" id="setting-screening-interaction_outcome_maoi".*?</section>', page, re.S
    )[0]


def test_a_choice_setting_reads_in_words_in_force_as_default_and_in_its_select(cast):
    card = setting_card(signed_in_client(cast.bob).get(reverse("practice:settings")).content.decode())
    shown = re.sub(r"<[^>]+>", " ", card.replace(f'value="{KEY}"', ""))
    assert re.search(r"In force\s+needs review", shown) and re.search(r"Cited default\s+needs review", shown)
    assert '<option value="needs_review" selected>needs review</option>' in card
    assert "needs_review" not in re.sub(r'(id|for|value|aria-\w+)="[^"]*"', "", card)
