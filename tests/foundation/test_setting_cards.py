"""The settings page's cards, written out in Python (practice/setting_cards.py), come out exactly as the template
they replace (setting_card_template.html beside this file) drew them: every declared setting, for a prescriber,
the admin and a viewer who changes nothing, with practice values, unusable ones, ones past a hard bound, proposals,
awkward text, and each kind of refused change."""

from pathlib import Path

from django.template import Context, Template
from django.template.defaulttags import CsrfTokenNode

from kapstone.practice import registry
from kapstone.practice.models import PracticeSetting, SettingProposal
from kapstone.practice.selectors import practice_settings_overview
from kapstone.practice.setting_cards import setting_card
from kapstone.practice.views import RefusedChange

TEMPLATE = Template(Path(__file__).with_name("setting_card_template.html").read_text())
AWKWARD = '<b>"O\'Brien" & co</b>'


def _keys_by_widget() -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for key, spec in sorted(registry.all_specs().items()):
        keys.setdefault(spec.kind.widget, []).append(key)
    return keys


def _store_awkward_states(cast) -> None:
    by_widget = _keys_by_widget()
    select_key = by_widget["select"][0]
    option = registry.all_specs()[select_key].kind.choices[-1][0]
    bounded = sorted(key for key, spec in registry.all_specs().items() if spec.has_hard_bounds)
    past = registry.all_specs()[bounded[0]]
    past_value = past.hard_max + 1 if past.hard_max is not None else past.hard_min - 1
    for key, value in (
        (select_key, option),
        (bounded[0], past_value),
        (by_widget["text"][-1], AWKWARD),
        (by_widget["textarea"][0], 5),
    ):
        PracticeSetting.objects.create(key=key, value=value, reason=AWKWARD, updated_by=AWKWARD)
    SettingProposal.objects.create(key=select_key, action="reset", value=None, reason="r", proposed_by=cast.admin)
    SettingProposal.objects.create(key=bounded[-1], value=past.default, reason=AWKWARD, proposed_by=cast.admin)
    SettingProposal.objects.create(key=by_widget["text"][0], value=AWKWARD, reason="r", proposed_by=cast.admin)


def _refusals(row) -> list[RefusedChange | None]:
    choices = getattr(row.spec.kind, "choices", ())
    typed = choices[0][0] if choices else AWKWARD
    return [
        None,
        RefusedChange(row.spec.key, "change", AWKWARD, typed, AWKWARD),
        RefusedChange(row.spec.key, "reset", AWKWARD, "", AWKWARD),
    ]


def test_every_card_comes_out_as_the_template_drew_it(cast):
    _store_awkward_states(cast)
    drawn = 0
    seen: set[str] = set()
    for viewer in (cast.bob, cast.admin, None):
        for area in practice_settings_overview(user=viewer).areas:
            for row in area.rows:
                seen |= {name for name in ("stored", "problem", "past_bound", "pending") if getattr(row, name)}
                seen |= {"may_change"} if row.may_change else {"may_propose"} if row.may_propose else {"neither"}
                for refused in _refusals(row):
                    context = Context(
                        {
                            "row": row,
                            "is_refused": refused is not None,
                            "refused": refused,
                            "settings_url": "/practice/settings/?a=1&b=<2>",
                            "csrf_token": 'tok"<&>',
                        }
                    )
                    expected = TEMPLATE.render(context)
                    assert (
                        setting_card(
                            row,
                            is_refused=refused is not None,
                            refused=refused,
                            settings_url="/practice/settings/?a=1&amp;b=&lt;2&gt;",
                            csrf_field=CsrfTokenNode().render(context),
                        )
                        == expected
                    ), row.spec.key
                    drawn += 1
    assert drawn >= 3 * 3 * 70
    assert seen == {"stored", "problem", "past_bound", "pending", "may_change", "may_propose", "neither"}


def test_a_structured_setting_reads_as_an_outline_not_as_json(cast, client_for):
    from django.urls import reverse

    page = client_for(cast.admin).get(reverse("practice:settings")).content.decode()
    card = page[page.index("What to do before each kind of session") :]
    start = card.index('<span class="setting-value">') + len('<span class="setting-value">')
    value = card[start : card.index("</span>", start)]
    assert value.startswith("Preparation\n  • ") and "&quot;" not in value and "[" not in value
    # Its keys in the words the schedule uses, not their codes.
    assert "\nFollow-up\n  • " in value and "follow_up" not in value


def test_the_long_term_safety_interval_has_a_title_that_reads_whole(cast, client_for):
    from django.urls import reverse

    page = client_for(cast.admin).get(reverse("practice:settings")).content.decode()
    assert "Dosing sessions between long-term safety follow-ups (KSET-style)</h3>" in page
    assert "(KSET-style) after every" not in page


def test_the_opening_hours_read_in_words_not_as_weekday_numbers(cast, client_for):
    from django.urls import reverse

    PracticeSetting.objects.create(
        key="program.opening_hours",
        value={"weekdays": [0, 2, 4], "preferred_start": "10:00", "closed_dates": ["2026-12-24..2026-12-26"]},
        reason="Three days a week",
        updated_by="admin",
    )
    page = client_for(cast.admin).get(reverse("practice:settings")).content.decode()
    card = page[page.index("Opening hours for planned sessions</h3>") :]
    start = card.index('<span class="setting-value">') + len('<span class="setting-value">')
    value = card[start : card.index("</span>", start)]
    assert value == (
        "Open Monday, Wednesday and Friday, 09:00 to 17:00\n"
        "A session may start every 60 minutes\n"
        "Sessions start at 10:00 where they can\n"
        "Closed on 24 Dec 2026 to 26 Dec 2026"
    )
    # The cited default beside it, in words too.
    assert "Open Monday to Friday, 09:00 to 17:00\n" in card[: card.index("</section>")]
