"""Hard bounds: the clinical limits from a setting's source that no practice value may cross, whoever sets it.

A data file gives them (`hard_bounds: {min, max, source, why}`); the registry refuses a cited default outside its
own bounds at import, practice.services refuses a change or an approval past one, naming the bound and its source,
and settings_store holds a stored value past one at the bound, which the settings page flags.
"""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.html import escape

from kapstone.audit.models import AuditEvent
from kapstone.integration.selectors import practice_window_settings
from kapstone.practice import registry
from kapstone.practice.checks import practice_settings_check
from kapstone.practice.models import PracticeSetting, SettingProposal
from kapstone.practice.registry import Lines, Number, SettingRefused, SettingSpec, specs_from_data_file
from kapstone.practice.services import setting_change_propose, setting_proposal_approve
from kapstone.practice.settings_store import practice_overrides, practice_value, practice_value_set
from tests.conftest import signed_in_client
from tests.foundation.test_practice_settings import SETTINGS_URL, change, specs

# The integration window's bounds (integration/data/window.yaml) are the worked example; every bounded setting
# is also checked generically below, so the dosing and screening bounds are held to the same rules.
OUTER = "integration.outer_hours"
BOUNDED = sorted(key for key, spec in registry.all_specs().items() if spec.has_hard_bounds)
WITH_MAX = [key for key in BOUNDED if registry.all_specs()[key].hard_max is not None]
WITH_MIN = [key for key in BOUNDED if registry.all_specs()[key].hard_min is not None]


def bounded_spec(**overrides) -> SettingSpec:
    fields = {
        "key": "test.hours",
        "label": "Test hours",
        "default": 48,
        "source": "A test source",
        "kind": Number(above=0),
        "unit": "h",
        "hard_min": 24,
        "hard_max": 72,
        "hard_source": "The bound's source",
        "hard_why": "the reason for the bound",
    }
    return SettingSpec(**{**fields, **overrides})


def _step(key) -> int | float:
    return 1 if specs()[key].kind.whole else 0.01


# --- the load check -------------------------------------------------------------------------------------------


def test_the_integration_window_carries_its_sourced_bounds():
    outer = specs()[OUTER]
    assert outer.hard_max == outer.default and "72 h as the outer bound" in outer.hard_source
    assert outer.describe_hard_bounds() == "from 24 h to 72 h" and outer.hard_why


@pytest.mark.parametrize("key", BOUNDED)
def test_each_hard_bound_has_its_source_and_why_and_holds_the_cited_default(key):
    spec = specs()[key]
    assert spec.hard_source and spec.hard_why and isinstance(spec.kind, Number)
    assert spec.past_hard_bound(spec.default) == ""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"default": 80}, "the cited default 80 is past its hard bound: cannot exceed 72 h"),
        ({"default": 12}, "the cited default 12 is past its hard bound: cannot be below 24 h"),
        ({"hard_min": 80}, "hard min 80 is above hard max 72"),
        ({"hard_why": " "}, "a hard bound needs its source and why"),
        ({"hard_source": ""}, "a hard bound needs its source and why"),
        ({"hard_max": "72"}, "hard bound '72' is not a number"),
        ({"kind": Lines(item=Number()), "default": []}, "hard bounds apply to number settings only"),
        ({"hard_min": None, "hard_max": None}, "cites a hard bound but gives no min or max"),
    ],
)
def test_a_spec_whose_hard_bounds_do_not_hold_fails_when_it_is_built(overrides, message):
    with pytest.raises(ValueError, match=message):
        bounded_spec(**overrides)


def _from_file(hard_bounds, **options):
    return specs_from_data_file(
        prefix="test",
        entries={"hours": {"value": 48, "unit": "h", "source": "ref", "hard_bounds": hard_bounds}},
        declared={"hours": ("Test hours", Number(above=0))},
        source_of=lambda name, entry: {"ref": "The reference"}[entry["source"]],
        **options,
    )


def test_a_data_file_hard_bound_is_read_with_its_source_resolved():
    (spec,) = _from_file({"max": 72, "source": "ref", "why": "the outer bound"})
    assert (spec.hard_min, spec.hard_max, spec.hard_source, spec.hard_why) == (
        None,
        72,
        "The reference",
        "the outer bound",
    )
    (spec,) = _from_file({"min": 24, "source": "other", "why": "x"}, sources={"other": "Another reference"})
    assert spec.hard_source == "Another reference"
    (spec,) = _from_file({"min": 24, "source": "Smith 2020, table 2", "why": "x"})
    assert spec.hard_source == "Smith 2020, table 2"


@pytest.mark.parametrize(
    ("hard_bounds", "message"),
    [
        ({"max": 36, "source": "ref", "why": "x"}, "the cited default 48 is past its hard bound"),
        ({"max": 72, "source": "no_such_source", "why": "x"}, "cites the unknown source 'no_such_source'"),
        ({"max": 72, "maximum": 80, "source": "ref", "why": "x"}, "hard_bounds takes"),
        ({"max": 72, "source": "ref"}, "needs its source and why"),
    ],
)
def test_a_data_file_whose_hard_bounds_do_not_hold_fails_at_import(hard_bounds, message):
    with pytest.raises(ValueError, match=message):
        _from_file(hard_bounds)


# --- refused on change and on approval ------------------------------------------------------------------------


def test_a_change_past_a_hard_bound_is_refused_naming_the_bound_and_its_source(cast):
    spec = specs()[OUTER]
    with pytest.raises(SettingRefused) as refused:
        change(cast, OUTER, str(spec.hard_max + 1))
    message = str(refused.value)
    assert message.startswith(f"“{spec.label}” ({OUTER}) cannot exceed {spec.hard_max} h: {spec.hard_why} (")
    assert spec.hard_source in message
    assert not PracticeSetting.objects.exists()
    assert not AuditEvent.objects.filter(object_type="practice_setting").exists()


def _expected_refusal(key, value) -> str:
    """The hard bound's words, unless the kind's input limit already refuses `value` (a bound at that limit)."""
    try:
        specs()[key].kind.check(value)
    except SettingRefused:
        return "must be"
    hard_max = specs()[key].hard_max
    return "cannot exceed" if hard_max is not None and value > hard_max else "cannot be below"


@pytest.mark.parametrize("key", WITH_MAX)
def test_a_value_just_past_a_hard_maximum_is_refused_and_the_maximum_itself_is_not(cast, key):
    spec = specs()[key]
    past = spec.hard_max + _step(key)
    with pytest.raises(SettingRefused, match=_expected_refusal(key, past)):
        change(cast, key, str(past))
    assert not PracticeSetting.objects.exists()
    try:
        change(cast, key, str(spec.hard_max))
    except SettingRefused as refused:  # an ordered pair with another setting's default may still refuse it
        assert "cannot exceed" not in str(refused)


@pytest.mark.parametrize("key", WITH_MIN)
def test_a_value_just_below_a_hard_minimum_is_refused(cast, key):
    spec = specs()[key]
    past = spec.hard_min - _step(key)
    with pytest.raises(SettingRefused, match=_expected_refusal(key, past)):
        change(cast, key, str(past))
    assert not PracticeSetting.objects.exists()


def test_a_proposal_past_a_hard_bound_is_refused_when_proposed(cast):
    with pytest.raises(SettingRefused, match="cannot exceed"):
        setting_change_propose(actor=cast.admin, key=OUTER, action="change", raw_value="96", reason="Longer")
    assert not SettingProposal.objects.exists()


def test_approving_a_proposal_past_a_hard_bound_is_refused_and_it_stays_pending(cast):
    # A proposal stored before the bound existed: approval runs every check again.
    proposal = SettingProposal.objects.create(key=OUTER, value=96, reason="Longer window", proposed_by=cast.admin)
    with pytest.raises(SettingRefused, match=r"cannot exceed 72 h: .*Integration timing is a clinical convention"):
        setting_proposal_approve(actor=cast.bob, proposal_id=proposal.pk)
    proposal.refresh_from_db()
    assert proposal.status == SettingProposal.Status.PENDING and not PracticeSetting.objects.exists()


def test_the_page_refuses_a_value_past_a_hard_bound_with_400(cast):
    response = signed_in_client(cast.bob).post(
        SETTINGS_URL, {"key": OUTER, "action": "change", "value": "100", "reason": "Longer"}
    )
    assert response.status_code == 400
    assert "Nothing was saved." in response.content.decode() and "cannot exceed 72 h" in response.content.decode()
    assert not PracticeSetting.objects.exists()


def test_the_command_refuses_a_value_past_a_hard_bound_with_exit_status_2(cast):
    with pytest.raises(CommandError) as refused:
        call_command("practice_setting", "set", OUTER, "100", "--reason", "Longer", "--by", "bob")
    assert refused.value.returncode == 2 and "cannot exceed 72 h" in str(refused.value)


# --- held at the bound on read --------------------------------------------------------------------------------


def test_a_stored_value_past_a_hard_bound_reaches_the_app_held_at_the_bound(cast):
    # Written before the bounds existed, or by hand: the low-level write does not check.
    practice_value_set(actor=cast.admin, key=OUTER, value=120, reason="set before the bound")
    practice_value_set(actor=cast.admin, key="integration.preferred_hours", value=6, reason="set by hand")
    assert practice_window_settings()["outer_hours"] == 72
    assert practice_window_settings()["preferred_hours"] == 24
    assert practice_overrides("integration") == {"outer_hours": 72, "preferred_hours": 24}
    assert practice_value(OUTER, None) == 72
    assert PracticeSetting.objects.get(key=OUTER).value == 120


def test_a_stored_value_within_the_bounds_reaches_the_app_as_it_is(cast):
    practice_value_set(actor=cast.admin, key=OUTER, value=60, reason="our protocol")
    assert practice_window_settings()["outer_hours"] == 60


def test_a_stored_value_a_bounded_setting_cannot_use_reaches_the_app_as_the_cited_default(cast):
    practice_value_set(actor=cast.admin, key=OUTER, value="seventy", reason="typed by hand")
    assert practice_window_settings()["outer_hours"] == specs()[OUTER].default


def test_none_set_is_kept_for_a_nullable_bounded_number():
    spec = bounded_spec(kind=Number(above=0, nullable=True), default=None)
    assert spec.within_hard_bounds(None) is None
    assert spec.within_hard_bounds(90) == 72 and spec.within_hard_bounds(10) == 24
    assert spec.past_hard_bound(None) == ""


def test_the_page_shows_each_hard_bound_with_its_source(cast):
    page = signed_in_client(cast.bob).get(SETTINGS_URL).content.decode()
    for key in BOUNDED:
        spec = specs()[key]
        assert escape(f"{spec.describe_hard_bounds()}: {spec.hard_why}") in page


def test_the_page_flags_a_stored_value_past_a_hard_bound_and_shows_the_value_the_apps_use(cast):
    practice_value_set(actor=cast.admin, key=OUTER, value=120, reason="set before the bound")
    page = signed_in_client(cast.bob).get(SETTINGS_URL).content.decode()
    assert "The stored value 120 h is past a hard bound: this setting cannot exceed 72 h" in page
    assert "The apps use 72 h until it is changed." in page


def test_the_command_lists_hard_bounds_and_flags_a_stored_value_past_one(cast, capsys):
    practice_value_set(actor=cast.admin, key=OUTER, value=120, reason="set before the bound")
    call_command("practice_setting", "list")
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(f"{OUTER} = "))
    assert "PAST A HARD BOUND (the apps use 72): it cannot exceed 72 h" in line
    assert "hard bounds: from 24 h to 72 h" in line


def test_the_start_up_check_passes_for_the_shipped_settings():
    assert practice_settings_check() == []


def test_the_start_up_check_stops_on_a_default_past_its_own_hard_bound(monkeypatch):
    def broken_data_file():
        bounded_spec(default=80)

    monkeypatch.setattr(registry, "all_specs", broken_data_file)
    (error,) = practice_settings_check()
    assert error.id == "practice.E001" and "the cited default 80 is past its hard bound" in error.msg
