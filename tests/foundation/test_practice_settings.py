"""Practice settings: the registry the apps declare, the one service that checks and writes a change, the settings
page and the `practice_setting` command. Hard bounds and proposals have their own files beside this one."""

import datetime
import html
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.alerts.settings_data import escalation_data, escalation_settings
from kapstone.audit.models import AuditEvent
from kapstone.billing import codes as billing_codes
from kapstone.billing.selectors import billing_setting
from kapstone.dosing import readiness, safety
from kapstone.integration.selectors import practice_window_settings
from kapstone.integration.window import window_data
from kapstone.measures.assessment_plans import DEFAULT_PLAN, PLAN_SETTING, load_plan
from kapstone.measures.portal_settings import DEFAULTS_FILE, portal_setting
from kapstone.measures.scoring import list_instruments
from kapstone.messaging.practice_settings import SESSION_REMINDER_LEAD_KEY
from kapstone.messaging.selectors import session_reminder_lead
from kapstone.outcomes.practice_settings import privacy_data
from kapstone.outcomes.selectors import minimum_cell_size
from kapstone.portal.practice_settings import PREFIX as PORTAL_PREFIX
from kapstone.portal.practice_settings import home_settings, preparation_data, preparation_instructions
from kapstone.practice import registry
from kapstone.practice.models import PracticeSetting, SettingProposal
from kapstone.practice.registry import SettingRefused
from kapstone.practice.services import practice_setting_change, practice_setting_reset
from kapstone.practice.settings_store import practice_overrides, practice_value, practice_value_set
from kapstone.program import sites, telehealth
from kapstone.program.planning import OPENING_HOURS_KEY, opening_hours
from kapstone.screening import engine
from tests.conftest import signed_in_client

SETTINGS_URL = reverse("practice:settings")


def specs() -> dict[str, registry.SettingSpec]:
    return registry.all_specs()


def editor(cast, key):
    """Who changes `key` directly: a prescriber a clinical setting, the admin an operational one."""
    spec = specs().get(key)
    return cast.admin if spec is not None and not spec.clinical else cast.bob


def change(cast, key, raw_value, reason="Our protocol, agreed 2026"):
    return practice_setting_change(actor=editor(cast, key), key=key, raw_value=raw_value, reason=reason)


def reset(cast, key, reason="Back to the cited default"):
    return practice_setting_reset(actor=editor(cast, key), key=key, reason=reason)


def within_hard_bounds(key, value) -> bool:
    return not specs()[key].past_hard_bound(value)


def by_args(key) -> list[str]:
    """The command's --by for `key`: a clinical setting names the prescriber who answers for it."""
    return ["--by", "bob"] if specs()[key].clinical else []


# --- the registry -------------------------------------------------------------------------------------------


def test_the_registry_declares_every_setting_the_apps_read():
    portal = yaml.safe_load(DEFAULTS_FILE.read_text())["settings"]
    read_by_apps = {
        *(f"dosing.{name}" for name in safety.safety_data()["settings"]),
        *(f"dosing.{name}" for name in readiness.readiness_data()["settings"]),
        *(f"integration.{name}" for name in window_data()["settings"]),
        *(f"measures.{name}" for name in portal),
        PLAN_SETTING,
        *(f"measures.{instrument.id}.{name}" for instrument in list_instruments() for name in instrument.settings),
        *(f"screening.{name}" for name in engine.load_rule_set().settings),
        OPENING_HOURS_KEY,
        *(f"billing.{name}" for name in billing_codes.settings_data()["settings"]),
        telehealth.LINK_TEMPLATE_KEY,
        telehealth.CLINICIAN_ROOMS_KEY,
        "portal.preparation_instructions",
        *(f"alerts.{name}" for name in escalation_data()["settings"]),
        *(f"outcomes.{name}" for name in privacy_data()["settings"]),
        *(occasion.every_nth[0] for occasion in load_plan(DEFAULT_PLAN).occasions if occasion.every_nth),
        sites.SITES_KEY,
        SESSION_REMINDER_LEAD_KEY,
    }
    assert set(specs()) == read_by_apps


def test_each_cited_default_is_what_the_app_uses_when_the_practice_sets_nothing(db):
    defaults = {key: spec.default for key, spec in specs().items()}
    in_use = {
        **{f"dosing.{name}": value for name, value in safety.thresholds(practice_overrides("dosing")).items()},
        **{f"dosing.{name}": value for name, value in readiness.readiness_settings().items()},
        **{f"integration.{name}": value for name, value in practice_window_settings().items()},
        **{f"measures.{name}": portal_setting(name) for name in yaml.safe_load(DEFAULTS_FILE.read_text())["settings"]},
        PLAN_SETTING: practice_value(PLAN_SETTING, DEFAULT_PLAN),
        **{
            f"measures.{instrument.id}.{name}": value
            for instrument in list_instruments()
            for name, value in instrument.resolve_settings(practice_overrides(f"measures.{instrument.id}")).items()
        },
        **{
            f"screening.{name}": value
            for name, value in engine.effective_settings(
                engine.load_rule_set(), practice_overrides("screening")
            ).items()
        },
        OPENING_HOURS_KEY: opening_hours(),
        **{f"billing.{name}": billing_setting(name) for name in billing_codes.settings_data()["settings"]},
        telehealth.LINK_TEMPLATE_KEY: practice_value(telehealth.LINK_TEMPLATE_KEY, ""),
        telehealth.CLINICIAN_ROOMS_KEY: practice_value(telehealth.CLINICIAN_ROOMS_KEY, {}),
        "portal.preparation_instructions": {
            kind: preparation_instructions(kind, remote=False, overrides=home_settings()[PORTAL_PREFIX])
            for kind in preparation_data()["settings"]["preparation_instructions"]["value"]
        },
        **{f"alerts.{name}": value for name, value in escalation_settings().items()},
        "outcomes.minimum_cell_size": minimum_cell_size(),
        **{
            key: practice_value(key, default)
            for key, default in (o.every_nth for o in load_plan(DEFAULT_PLAN).occasions if o.every_nth)
        },
        sites.SITES_KEY: sites.practice_sites(),
        SESSION_REMINDER_LEAD_KEY: session_reminder_lead() / datetime.timedelta(hours=1),
    }
    assert in_use == defaults


@pytest.mark.parametrize("key", sorted(registry.all_specs()))
def test_each_cited_default_passes_its_own_check_and_reads_back_from_the_form(key):
    spec = specs()[key]
    spec.kind.check(spec.default)
    assert spec.kind.parse(spec.kind.to_text(spec.default)) == spec.default
    assert spec.label and spec.source


# --- the service: checks, writes, audit ---------------------------------------------------------------------


def test_a_threshold_typed_as_text_is_stored_as_the_number_the_room_compares(cast):
    stricter = _default("dosing.stop_systolic") - 5
    row = change(cast, "dosing.stop_systolic", f" {stricter} ")
    assert row.value == stricter and isinstance(row.value, int)
    assert row.updated_by == "bob" and row.reason == "Our protocol, agreed 2026"


@pytest.mark.parametrize(
    ("key", "raw_value", "message"),
    [
        ("dosing.stop_systolic", "180 mmHg", "must be a whole number from 50 to 300, not '180 mmHg'"),
        ("dosing.stop_systolic", "180.5", "must be a whole number"),
        ("dosing.stop_systolic", "400", "not 400"),
        ("dosing.stop_systolic", "", "cannot be left blank"),
        ("dosing.stop_systolic", "NaN", "must be a whole number"),
        ("dosing.ceiling_iv_mg_per_kg", "0", "above 0"),
        ("dosing.ceiling_iv_mg_per_kg", "1e400", "must be a number above 0"),
        ("integration.outer_hours", "100000", "at most"),
        ("integration.reminder_offsets_hours", "3\nsoon", "line 2 must be a number above 0"),
        ("measures.crisis_resources", "Samaritans 116 123", "line 1 needs a label and a contact"),
        ("measures.crisis_resources", "", "at least 1 line"),
        ("measures.invitation_expiry_days", "0", "must be a whole number from 1 to"),
        ("measures.plan", "no-such-plan", "There is no assessment plan 'no-such-plan'"),
        ("measures.plan", '{"id": "mine"}', "missing 'version'"),
        ("measures.plan", '{"id": "x", "version": 1, "name": "x", "occasions": [1]}', "the plan's shape is wrong"),
        ("screening.not_treatment_resistant_outcome", "maybe", "one of: exclude, needs_review"),
        ("screening.psychosis_review_includes_first_degree_relative", "perhaps", "must be yes or no"),
        ("screening.non_response_threshold_percent", "150", "from 0 to 100"),
        ("program.opening_hours", '{"opens": "18:00"}', "opens must be before closes"),
        ("program.opening_hours", '{"colour": "blue"}', "unknown keys ['colour']"),
        ("program.opening_hours", '{"weekdays": [7]}', "0 (Monday) to 6 (Sunday)"),
        ("program.opening_hours", "{opens: 8}", "the JSON does not read"),
    ],
)
def test_a_value_the_app_cannot_use_is_refused_with_a_message_and_nothing_is_saved(cast, key, raw_value, message):
    with pytest.raises(SettingRefused) as refused:
        change(cast, key, raw_value)
    assert message in str(refused.value)
    assert specs()[key].label in str(refused.value)
    assert not PracticeSetting.objects.exists()
    assert not AuditEvent.objects.filter(object_type="practice_setting").exists()


def test_an_unknown_setting_is_refused_and_the_known_ones_are_named(cast):
    with pytest.raises(
        SettingRefused, match="There is no practice setting 'dosing.stop_sistolic'.*dosing.stop_systolic"
    ):
        change(cast, "dosing.stop_sistolic", "185")
    assert not PracticeSetting.objects.exists()


def test_a_change_without_a_reason_is_refused(cast):
    with pytest.raises(SettingRefused, match="a reason is required"):
        change(cast, "dosing.stop_systolic", "185", reason="   ")
    assert not PracticeSetting.objects.exists()


def test_values_are_stored_in_the_shape_each_app_reads(cast):
    assert change(cast, "dosing.ceiling_im_mg_per_kg", "0.5").value == 0.5
    assert change(cast, "dosing.ceiling_iv_mg_per_kg", "").value is None
    no_ceiling = safety.check_ceiling(
        route="iv", dose_mg=Decimal("30"), weight_kg=None, overrides=practice_overrides("dosing")
    )
    assert no_ceiling.within is None
    assert change(cast, "integration.reminder_offsets_hours", "2\n\n12.5\n").value == [2, 12.5]
    assert change(cast, "screening.psychosis_review_includes_first_degree_relative", "Yes").value is True
    lines = change(cast, "measures.crisis_resources", "Samaritans (UK) | 116 123\nNHS 111 | 111").value
    assert lines == [{"label": "Samaritans (UK)", "contact": "116 123"}, {"label": "NHS 111", "contact": "111"}]
    assert change(cast, "program.opening_hours", '{"opens": "08:30"}').value == {"opens": "08:30"}
    assert opening_hours()["opens"] == "08:30" and opening_hours()["closes"] == "17:00"
    assert change(cast, "measures.plan", "default").value == "default"
    assert portal_setting("crisis_resources")[0]["contact"] == "116 123"


def test_a_change_is_audited_with_its_value_and_reason(cast):
    change(cast, "integration.outer_hours", "60")
    event = AuditEvent.objects.get(object_type="practice_setting")
    assert (event.action, event.object_id, event.actor_label) == ("update", "integration.outer_hours", "bob")
    assert '"value":60' in event.detail and "Our protocol" in event.detail


def test_a_reset_returns_to_the_cited_default_and_the_audit_trail_keeps_the_old_value(cast):
    change(cast, "integration.preferred_hours", "36")
    reset(cast, "integration.preferred_hours", reason="Back to the protocol")
    assert not PracticeSetting.objects.exists()
    assert practice_window_settings()["preferred_hours"] == specs()["integration.preferred_hours"].default
    event = AuditEvent.objects.filter(object_type="practice_setting").latest("pk")
    assert event.action == "delete" and '"previous_value":36' in event.detail and "Back to the protocol" in event.detail


def test_a_reset_needs_a_reason_and_a_practice_value_to_remove(cast):
    change(cast, "integration.preferred_hours", "36")
    with pytest.raises(SettingRefused, match="a reason is required"):
        reset(cast, "integration.preferred_hours", reason="")
    assert PracticeSetting.objects.count() == 1
    with pytest.raises(SettingRefused, match="already follows the cited default"):
        reset(cast, "dosing.stop_diastolic", reason="tidy")


# --- settings that must stay in order --------------------------------------------------------------------

# (lower, upper, whether equal is allowed): pairs the apps declare; the moves below cover every declared pair.
ORDERED = [
    ("dosing.predose_systolic_review", "dosing.stop_systolic", False),
    ("dosing.predose_diastolic_review", "dosing.stop_diastolic", False),
    ("dosing.vitals_check_minutes_after_dose", "dosing.min_observation_minutes", True),
    ("integration.preferred_hours", "integration.outer_hours", True),
    ("screening.bp_review_systolic_mmhg", "screening.bp_exclude_systolic_mmhg", False),
    ("screening.bp_review_diastolic_mmhg", "screening.bp_exclude_diastolic_mmhg", False),
]
PAIRS = [(pair.lower, pair.upper, pair.or_equal) for pair in registry.ordered_pairs()]


def _default(key):
    return specs()[key].default


def _first_out_of_order(lower, upper, moving) -> int:
    or_equal = next(equal for low, up, equal in PAIRS if (low, up) == (lower, upper))
    step = 1 if or_equal else 0
    return _default(upper) + step if moving == lower else _default(lower) - step


def _acceptable(key, value, *, others=None, ignoring=None) -> bool:
    """Whether `value` passes the kind and hard bounds of `key` and every pair it belongs to (but `ignoring`),
    the other ends at `others` or their cited defaults."""
    spec, others = specs()[key], others or {}
    try:
        spec.kind.check(value)
    except SettingRefused:
        return False
    if spec.past_hard_bound(value):
        return False
    for pair in registry.pairs_with(key):
        if (pair.lower, pair.upper) == ignoring:
            continue
        lower, upper = (value if end == key else others.get(end, _default(end)) for end in (pair.lower, pair.upper))
        if lower is not None and upper is not None and not pair.holds(lower, upper):
            return False
    return True


def _room(lower, upper, moving) -> int | None:
    """A step by which the other end can move away twice and `moving` follow it once, each accepted alone;
    None where a hard bound or another pair leaves no room."""
    other = upper if moving == lower else lower
    direction = 1 if moving == lower else -1
    for step in (10, 4, 2):
        moved_other = _default(other) + 2 * step * direction
        if _acceptable(other, moved_other) and _acceptable(
            moving, _default(other) + step * direction, others={other: moved_other}
        ):
            return step
    return None


def _param(lower, upper, moving):
    return pytest.param(lower, upper, moving, id=f"{lower}-{'raised' if moving == lower else upper + '-lowered'}")


def _nearest_in_order(lower, upper, moving) -> int:
    return _first_out_of_order(lower, upper, moving) + (-1 if moving == lower else 1)


# Each declared pair, moved from either end: the setting changed and the first value that leaves the pair out of
# order, worked out from the cited defaults so no clinical number is restated here. A move is tested where only
# this pair stands in its way: where a hard bound (test_practice_setting_bounds) or another pair would refuse the
# value first, the move says nothing about this pair.
_ALL_MOVES = [(lower, upper, moving) for lower, upper, _ in PAIRS for moving in (lower, upper)]
MOVES = [
    _param(*move)
    for move in _ALL_MOVES
    if _acceptable(move[2], _first_out_of_order(*move), ignoring=move[:2])
    and not _acceptable(move[2], _first_out_of_order(*move))
]
NEAREST_MOVES = [_param(*move) for move in _ALL_MOVES if _acceptable(move[2], _nearest_in_order(*move))]
ROOMY_MOVES = [_param(*move) for move in _ALL_MOVES if _room(*move) is not None]


def _assert_names_both(message, lower, upper):
    for key in (lower, upper):
        assert f"“{specs()[key].label}” ({key})" in message


def test_the_apps_declare_the_settings_that_must_stay_in_order_and_the_cited_defaults_keep_it():
    assert set(ORDERED) <= set(PAIRS)
    for lower, upper, or_equal in PAIRS:
        assert registry.OrderedPair(lower, upper, "x", or_equal).holds(_default(lower), _default(upper))
    assert MOVES and NEAREST_MOVES and ROOMY_MOVES


@pytest.mark.parametrize(("lower", "upper", "moving"), MOVES)
def test_a_change_that_puts_a_pair_out_of_order_is_refused_naming_both_settings(cast, lower, upper, moving):
    value = _first_out_of_order(lower, upper, moving)
    with pytest.raises(SettingRefused) as refused:
        change(cast, moving, str(value))
    _assert_names_both(str(refused.value), lower, upper)
    assert f"{value}" in str(refused.value) and "(the new value)" in str(refused.value)
    assert "(the cited default)" in str(refused.value)
    assert not PracticeSetting.objects.exists()
    assert not AuditEvent.objects.filter(object_type="practice_setting").exists()


@pytest.mark.parametrize(("lower", "upper", "moving"), NEAREST_MOVES)
def test_the_nearest_value_still_in_order_is_accepted(cast, lower, upper, moving):
    nearest = _nearest_in_order(lower, upper, moving)
    assert change(cast, moving, str(nearest)).value == nearest


@pytest.mark.parametrize(("lower", "upper", "moving"), ROOMY_MOVES)
def test_a_pair_is_checked_against_the_practice_value_of_the_other_setting(cast, lower, upper, moving):
    """The other end moved first makes room; a reset of it that would squeeze the moved end is refused."""
    other = upper if moving == lower else lower
    step = _room(lower, upper, moving) * (1 if moving == lower else -1)
    change(cast, other, str(_default(other) + 2 * step))
    change(cast, moving, str(_default(other) + step))
    with pytest.raises(SettingRefused) as refused:
        reset(cast, other)
    _assert_names_both(str(refused.value), lower, upper)
    assert "(the practice value)" in str(refused.value) and "the cited default, after the reset" in str(refused.value)
    with pytest.raises(SettingRefused):
        change(cast, other, str(_default(other) + step // 2))
    assert PracticeSetting.objects.get(key=other).value == _default(other) + 2 * step


def test_a_stored_value_the_app_cannot_use_does_not_block_fixing_its_partner(cast):
    practice_value_set(actor=cast.admin, key="dosing.stop_systolic", value="180", reason="typed by hand")
    review = _default("dosing.predose_systolic_review") - 1
    assert change(cast, "dosing.predose_systolic_review", str(review)).value == review


@pytest.mark.parametrize(("lower", "upper", "moving"), MOVES)
def test_a_change_on_the_page_that_puts_a_pair_out_of_order_answers_400_and_saves_nothing(cast, lower, upper, moving):
    value = _first_out_of_order(lower, upper, moving)
    response = signed_in_client(editor(cast, moving)).post(
        SETTINGS_URL, {"key": moving, "action": "change", "value": str(value), "reason": "Local protocol"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page and f"<code>{lower}</code>" in page
    _assert_names_both(page, lower, upper)
    assert not PracticeSetting.objects.exists()


@pytest.mark.parametrize(("lower", "upper", "moving"), MOVES)
def test_the_command_refuses_a_change_that_puts_a_pair_out_of_order_with_exit_status_2(cast, lower, upper, moving):
    value = _first_out_of_order(lower, upper, moving)
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", "set", moving, str(value), "--reason", "Local protocol", *by_args(moving))
    assert refused.value.returncode == 2
    _assert_names_both(str(refused.value), lower, upper)
    assert not PracticeSetting.objects.exists()


def test_the_command_refuses_a_reset_that_puts_a_pair_out_of_order_with_exit_status_2(cast):
    lower, upper, moving = ROOMY_MOVES[0].values
    other = upper if moving == lower else lower
    step = _room(lower, upper, moving) * (1 if moving == lower else -1)
    change(cast, other, str(_default(other) + 2 * step))
    change(cast, moving, str(_default(other) + step))
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", "reset", other, "--reason", "Back to the protocol", *by_args(other))
    assert refused.value.returncode == 2
    _assert_names_both(str(refused.value), lower, upper)
    assert PracticeSetting.objects.get(key=other).value == _default(other) + 2 * step


# --- stored settings no app declares ------------------------------------------------------------------------

UNUSED_KEY = "screening.retired_threshold_mmhg"


def _store_unused(cast):
    practice_value_set(actor=cast.admin, key=UNUSED_KEY, value=150, reason="Set under an older version")


def test_a_stored_setting_no_app_declares_is_listed_on_the_page_with_its_value_and_reason(cast):
    page = signed_in_client(cast.admin).get(SETTINGS_URL).content.decode()
    assert "Settings Kapstone no longer uses" not in page
    _store_unused(cast)
    page = signed_in_client(cast.admin).get(SETTINGS_URL).content.decode()
    assert "Settings Kapstone no longer uses</h2>" in page
    assert f"<code>{UNUSED_KEY}</code>" in page and "Set under an older version" in page and ">150<" in page


def test_removing_a_setting_kapstone_no_longer_uses_unblocks_screening(cast):
    _store_unused(cast)
    with pytest.raises(engine.SettingsOverrideError, match="unknown setting 'retired_threshold_mmhg'"):
        engine.effective_settings(engine.load_rule_set(), practice_overrides("screening"))
    response = signed_in_client(cast.admin).post(
        SETTINGS_URL, {"key": UNUSED_KEY, "action": "reset", "reason": "Left by the old rule set"}
    )
    assert response.status_code == 302 and response.url.endswith("#setting-screening-retired_threshold_mmhg")
    assert not PracticeSetting.objects.exists()
    assert engine.effective_settings(engine.load_rule_set(), practice_overrides("screening"))
    event = AuditEvent.objects.filter(object_type="practice_setting", object_id=UNUSED_KEY).latest("pk")
    assert event.action == "delete" and event.actor_label == "admin"
    assert event.detail_data == {
        "previous_value": 150,
        "reason": "Left by the old rule set",
        "no_longer_used": True,
    }


def test_removing_a_setting_kapstone_no_longer_uses_needs_a_reason(cast):
    _store_unused(cast)
    response = signed_in_client(cast.admin).post(SETTINGS_URL, {"key": UNUSED_KEY, "action": "reset", "reason": " "})
    assert response.status_code == 400
    page = response.content.decode()
    assert "a reason is required" in page and 'aria-invalid="true"' in page
    assert PracticeSetting.objects.filter(key=UNUSED_KEY).exists()


def test_a_setting_kapstone_no_longer_uses_cannot_be_given_a_new_value(cast):
    _store_unused(cast)
    response = signed_in_client(cast.admin).post(
        SETTINGS_URL, {"key": UNUSED_KEY, "action": "change", "value": "160", "reason": "x"}
    )
    assert response.status_code == 400 and "There is no practice setting" in response.content.decode()
    assert PracticeSetting.objects.get(key=UNUSED_KEY).value == 150


def test_other_roles_cannot_remove_a_setting_kapstone_no_longer_uses(cast):
    _store_unused(cast)
    for role in ["therapist", "nurse", "researcher", "alice_user"]:
        response = signed_in_client(cast.user(role)).post(
            SETTINGS_URL, {"key": UNUSED_KEY, "action": "reset", "reason": "x"}
        )
        assert response.status_code == 403
    assert PracticeSetting.objects.filter(key=UNUSED_KEY).exists()


def test_the_command_lists_and_removes_a_setting_kapstone_no_longer_uses(cast, capsys):
    _store_unused(cast)
    call_command("practice_setting", "list")
    out = capsys.readouterr().out
    assert "# Settings Kapstone no longer uses" in out
    assert f'{UNUSED_KEY} = 150  [set by admin: "Set under an older version"]' in out
    call_command("practice_setting", "reset", UNUSED_KEY, "--reason", "Left by the old rule set")
    assert not PracticeSetting.objects.exists()
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", "reset", UNUSED_KEY, "--reason", "again")
    assert refused.value.returncode == 2 and f"There is no practice setting {UNUSED_KEY!r}" in str(refused.value)


# --- the dosing room follows a changed threshold ------------------------------------------------------------


def _assess(systolic: int):
    return safety.assess_vitals(
        systolic=systolic, diastolic=80, heart_rate=70, spo2=98, pre_dose=False, overrides=practice_overrides("dosing")
    )


def test_a_lower_stop_threshold_stops_a_reading_the_cited_default_lets_through(cast):
    default = specs()["dosing.stop_systolic"].default
    assert _assess(default - 5).level != "stop"
    change(cast, "dosing.stop_systolic", str(default - 10))
    assessment = _assess(default - 5)
    assert assessment.level == "stop" and f"stop threshold {default - 10}/" in assessment.messages[0]


def test_a_lower_stop_threshold_typed_on_the_page_by_a_prescriber_stops_the_reading(cast):
    default = specs()["dosing.stop_systolic"].default
    assert _assess(default - 5).level != "stop"
    signed_in_client(cast.bob).post(
        SETTINGS_URL,
        {"key": "dosing.stop_systolic", "action": "change", "value": str(default - 10), "reason": "Local protocol"},
    )
    assert _assess(default - 5).level == "stop"


# --- the page -----------------------------------------------------------------------------------------------


def test_the_page_lists_every_setting_by_area_with_its_cited_default_and_source(cast):
    page = signed_in_client(cast.admin).get(SETTINGS_URL).content.decode()
    for area in registry.areas():
        assert f">{area.name}</h2>" in page
        for spec in area.specs:
            assert f"<code>{spec.key}</code>" in page
    stop = specs()["dosing.stop_systolic"]
    assert stop.label in page and "Clinic protocols commonly stop" in page and "source not yet verified" in page


def test_the_page_shows_the_practices_value_its_reason_and_who_set_it(cast):
    change(cast, "dosing.stop_systolic", "175", reason="Cardiology advice for our population")
    page = signed_in_client(cast.admin).get(SETTINGS_URL).content.decode()
    assert "Cardiology advice for our population" in page and "set by bob" in page
    assert 'value="175"' in page


def test_a_prescriber_changes_a_clinical_setting_and_lands_back_beside_it(cast):
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL,
        {"key": "integration.preferred_hours", "action": "change", "value": "36", "reason": "Shorter window"},
    )
    assert response.status_code == 302 and response.url == f"{SETTINGS_URL}#setting-integration-preferred_hours"
    assert practice_window_settings()["preferred_hours"] == 36


def test_a_prescriber_resets_a_clinical_setting_from_the_page(cast):
    change(cast, "integration.preferred_hours", "36")
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL, {"key": "integration.preferred_hours", "action": "reset", "reason": "Back to 48"}
    )
    assert response.status_code == 302 and not PracticeSetting.objects.exists()


def test_an_admin_changes_an_operational_setting_directly(cast):
    response = signed_in_client(cast.admin).post(
        SETTINGS_URL,
        {"key": "integration.reminder_offsets_hours", "action": "change", "value": "4\n20", "reason": "Later"},
    )
    assert response.status_code == 302
    assert practice_window_settings()["reminder_offsets_hours"] == [4, 20]


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"key": "dosing.stop_systolic", "action": "change", "value": "180 mmHg", "reason": "x"}, "whole number"),
        ({"key": "dosing.stop_systolic", "action": "change", "value": "185", "reason": ""}, "a reason is required"),
        ({"key": "dosing.nothing", "action": "change", "value": "1", "reason": "x"}, "no practice setting"),
        ({"key": "dosing.stop_systolic", "action": "reset", "reason": "x"}, "already follows the cited default"),
        ({"key": "dosing.stop_systolic", "action": "delete", "value": "1", "reason": "x"}, "Choose a setting"),
        ({"key": "measures.plan", "action": "change", "value": "x" * 20_001, "reason": "x"}, "longer than"),
        ({}, "Choose a setting"),
    ],
)
def test_bad_input_on_the_page_answers_400_with_the_message_and_saves_nothing(cast, post, message):
    response = signed_in_client(cast.bob).post(SETTINGS_URL, post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PracticeSetting.objects.exists()


def test_a_refused_value_is_given_back_beside_its_setting(cast):
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL, {"key": "dosing.stop_systolic", "action": "change", "value": "18O", "reason": "typo test"}
    )
    page = response.content.decode()
    assert 'value="18O"' in page and 'aria-invalid="true"' in page and "typo test" in page


def test_a_stored_value_the_app_cannot_use_is_flagged_not_a_crash(cast):
    practice_value_set(actor=cast.admin, key="dosing.stop_systolic", value="180", reason="typed by hand")
    response = signed_in_client(cast.admin).get(SETTINGS_URL)
    assert response.status_code == 200
    assert "The stored value cannot be used" in response.content.decode()


def test_other_roles_cannot_change_a_setting(cast):
    for role in ["therapist", "nurse", "researcher", "alice_user"]:
        response = signed_in_client(cast.user(role)).post(
            SETTINGS_URL, {"key": "dosing.stop_systolic", "action": "change", "value": "200", "reason": "x"}
        )
        assert response.status_code == 403
    assert not PracticeSetting.objects.exists()


def test_admins_and_prescribers_see_the_settings_link(cast):
    for role, shown in [("admin", True), ("bob", True), ("therapist", False), ("nurse", False), ("researcher", False)]:
        page = signed_in_client(cast.user(role)).get(reverse("home:home")).content.decode()
        assert (SETTINGS_URL in page) == shown, role


def test_the_page_reads_the_stored_settings_in_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.admin)
    client.get(SETTINGS_URL)
    with CaptureQueriesContext(connection) as none_stored:
        client.get(SETTINGS_URL)
    for key, value in [
        ("dosing.stop_systolic", "175"),
        ("integration.outer_hours", "60"),
        ("screening.sud_remission_months", "24"),
    ]:
        change(cast, key, value)
    _store_unused(cast)
    for key, value in [("integration.outer_hours", 66), ("dosing.stop_heart_rate", 100)]:
        SettingProposal.objects.create(key=key, value=value, reason="Proposed", proposed_by=cast.admin)
    with CaptureQueriesContext(connection) as three_stored:
        client.get(SETTINGS_URL)
    assert len(three_stored) == len(none_stored)


# --- the command --------------------------------------------------------------------------------------------


def test_the_command_lists_every_setting_with_the_value_in_force(cast, capsys):
    change(cast, "dosing.stop_systolic", "175", reason="Cardiology advice")
    call_command("practice_setting", "list")
    out = capsys.readouterr().out
    for key in specs():
        assert f"{key} = " in out
    assert 'dosing.stop_systolic = 175 mmHg  [practice value, by bob: "Cardiology advice"' in out


def test_the_command_sets_and_resets_a_clinical_setting_by_the_prescriber_it_names(cast, capsys):
    call_command("practice_setting", "set", "dosing.low_spo2", "92", "--reason", "Anaesthetist's advice", "--by", "bob")
    row = PracticeSetting.objects.get(key="dosing.low_spo2")
    assert row.value == 92 and row.updated_by == "bob"
    call_command("practice_setting", "reset", "dosing.low_spo2", "--reason", "Back to the WHO figure", "--by", "bob")
    assert not PracticeSetting.objects.exists()
    actors = set(AuditEvent.objects.filter(object_type="practice_setting").values_list("actor_label", flat=True))
    assert actors == {"bob"}


def test_the_command_sets_an_operational_setting_as_itself(cast):
    call_command("practice_setting", "set", "integration.reminder_offsets_hours", "4", "--reason", "Later nudge")
    row = PracticeSetting.objects.get(key="integration.reminder_offsets_hours")
    assert row.value == [4] and row.updated_by == "system:practice_setting"


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ([], "this command names no one"),
        (["--by", "admin"], "admin is not one"),
        (["--by", "theo"], "theo is not one"),
        (["--by", "nobody"], "there is no active staff login 'nobody'"),
    ],
)
def test_the_command_sets_a_clinical_setting_only_by_a_prescriber(cast, by, message):
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", "set", "dosing.low_spo2", "92", "--reason", "Local protocol", *by)
    assert refused.value.returncode == 2 and message in str(refused.value)
    assert not PracticeSetting.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "dosing.low_spo2", "ninety", "--reason", "x"], "must be a whole number from 50 to 100"),
        (["set", "dosing.low_sp02", "92", "--reason", "x"], "There is no practice setting 'dosing.low_sp02'"),
        (["set", "dosing.low_spo2", "92", "--reason", " "], "a reason is required"),
        (["reset", "dosing.low_spo2", "--reason", "x"], "already follows the cited default"),
    ],
)
def test_the_command_refuses_bad_input_with_exit_status_2_and_saves_nothing(cast, args, message):
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", *args, "--by", "bob")
    assert refused.value.returncode == 2 and message in str(refused.value)
    assert not PracticeSetting.objects.exists()


def test_the_command_without_a_reason_exits_2_before_touching_anything():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kapstone.settings_test"}
    result = subprocess.run(
        [sys.executable, "-m", "kapstone", "practice_setting", "set", "dosing.low_spo2", "92"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "--reason" in result.stderr


@pytest.mark.parametrize("role", ["admin", "bob"])
def test_every_change_reset_and_removal_form_on_the_page_posts_to_the_settings_page(cast, role):
    _store_unused(cast)
    practice_value_set(actor=cast.admin, key="dosing.stop_systolic", value="170", reason="Our protocol")
    page = signed_in_client(getattr(cast, role)).get(SETTINGS_URL).content.decode()
    actions = re.findall(r'<form method="post" action="([^"]*)"', page)
    assert set(actions) == {SETTINGS_URL, reverse("accounts:logout")}
    assert actions.count(SETTINGS_URL) == page.count('<input type="hidden" name="key"') > 0


def test_a_reason_over_its_length_is_given_back_beside_the_setting_with_what_to_shorten(cast):
    long_reason = "Our medical director's rationale, agreed at the governance meeting. " * 10
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL, {"key": "dosing.stop_systolic", "action": "change", "value": "175", "reason": long_reason}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Reason: Ensure this value has at most 500 characters" in page
    assert "Choose a setting and whether" not in page
    assert html.escape(long_reason.strip()) in page and 'value="175"' in page
    assert not PracticeSetting.objects.exists()


def test_the_settings_page_prints_a_source_and_what_the_data_file_notes_from_it_once(cast):
    """preparation.yaml notes "no driving until the next day after restful sleep" from the SPRAVATO REMS, whose
    reference written out ends with the same words: the page printed them twice."""
    page = signed_in_client(cast.admin).get(SETTINGS_URL).text
    from kapstone.practice.selectors import setting_anchor

    card = page[page.index(f'id="{setting_anchor(PORTAL_PREFIX + ".preparation_instructions")}"') :]
    card = card[: card.index("</section>")]
    assert card.count("no driving until the next day after restful sleep") == 1
    assert "SPRAVATO REMS" in card
