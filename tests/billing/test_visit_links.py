"""The account pages' visit links drawn in Python (billing_tags.visit_links) say what the templates' loops said."""

import datetime
import itertools
from pathlib import Path

from django.template import engines
from django.test import override_settings
from django.utils import translation

from kapstone.billing.templatetags.billing_tags import visit_links
from kapstone.program.models import GroupSession

OLD_LINKS = (Path(__file__).parent / "visit_link_template.html").read_text()


def _visits() -> list[GroupSession]:
    # 03:30 UTC on March 2 is the evening of March 1 in New York: the day shown is the practice's.
    times = [
        datetime.datetime(2026, 3, 2, 3, 30, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 31, 17, 5, tzinfo=datetime.UTC),
    ]
    cases = itertools.product(GroupSession.Kind.values, [1, 12], times)
    return [
        GroupSession(pk=number, kind=kind, number=session_number, starts_at=when)
        for number, (kind, session_number, when) in enumerate(cases, start=1)
    ]


@override_settings(TIME_ZONE="America/New_York")
def test_the_visit_links_drawn_in_python_are_the_templates_links():
    visits = _visits()
    for language, (url_name, leading, suffix) in itertools.product(
        ["en", "es"],
        [("billing:visit_superbill", [5066], ""), ("billing:my_superbill_pdf", [], " (PDF)")],
    ):
        with translation.override(language):
            old = (
                engines["django"]
                .from_string(OLD_LINKS)
                .render(
                    {
                        "visits": visits,
                        "url_name": url_name,
                        "patient_id": leading[0] if leading else None,
                        "suffix": suffix,
                    }
                )
            )
            new = visit_links(visits, url_name, *leading, suffix=suffix)
        assert new == old.strip()
    # The last drawn in Spanish: the day's name in the active language, as the product's "D j M Y" has it.
    assert '<a href="/billing/my/visit/1/superbill.pdf">Preparation session 1, dom 1 Mar 2026 (PDF)</a>' in new
    with translation.override("en"):
        english = visit_links(visits[:1], "billing:my_superbill_pdf", suffix=" (PDF)")
    assert "Preparation session 1, Sun 1 Mar 2026 (PDF)" in english


def test_a_suffix_is_escaped():
    assert "&lt;b&gt;" in visit_links(_visits()[:1], "billing:my_superbill_pdf", suffix="<b>")
