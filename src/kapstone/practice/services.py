"""Changing the practice's own settings: the one door the settings page and the command go through.

Every value is read and checked against the setting's declared kind (practice.registry) before anything is
written, and every ordered pair the setting belongs to is checked against the values that would then be in
force, so a value the app cannot use, or a set of values it cannot use together, is refused with a message
and nothing is saved.
"""

from typing import Any

from django.db import transaction

from kapstone.audit import services as audit
from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import SettingRefused, SettingSpec, all_specs, pairs_with, setting_spec
from kapstone.practice.settings_store import practice_value_set

# An input limit, not a clinical number: the longest setting (a whole assessment plan as JSON) is a few kB.
MAX_VALUE_CHARS = 20_000


def _reason_given(label: str, reason: str) -> str:
    if not reason or not reason.strip():
        raise SettingRefused(f"Say why the practice changes {label}: a reason is required.")
    return reason.strip()


def _named(spec: SettingSpec) -> str:
    return f"“{spec.label}” ({spec.key})"


def _in_force(spec: SettingSpec, stored: dict[str, Any]) -> tuple[Any, str]:
    if spec.key in stored:
        return stored[spec.key], "the practice value"
    return spec.default, "the cited default"


def _refuse_pairs_out_of_order(*, key: str, value: Any, described: str) -> None:
    """Refuses `value` for `key` where it would leave one of the key's ordered pairs out of order, given the
    other setting's value in force (the practice's own, else the cited default)."""
    pairs = pairs_with(key)
    if not pairs:
        return
    specs = all_specs()
    others = {pair.upper if pair.lower == key else pair.lower for pair in pairs}
    # Locked, so a change to the other end waits for this one; an end at its cited default has no row to lock.
    stored = {row.key: row.value for row in PracticeSetting.objects.select_for_update().filter(key__in=others)}
    for pair in pairs:
        ends = {
            end: (value, described) if end == key else _in_force(specs[end], stored) for end in (pair.lower, pair.upper)
        }
        (lower, lower_described), (upper, upper_described) = ends[pair.lower], ends[pair.upper]
        # A stored value the app cannot use is flagged on the page, and changing that setting is its fix; a
        # blank (none set) orders against nothing.
        comparable = all(_usable(specs[end], end_value) for end, (end_value, _) in ends.items())
        if not comparable or lower is None or upper is None or pair.holds(lower, upper):
            continue
        lower_spec, upper_spec = specs[pair.lower], specs[pair.upper]
        raise SettingRefused(
            f"{_named(lower_spec)} {pair.relation} {_named(upper_spec)}, but this would leave "
            f"{lower}{_unit(lower_spec)} ({lower_described}) against {upper}{_unit(upper_spec)} "
            f"({upper_described}): {pair.why}. To move both, change the other one first."
        )


def _usable(spec: SettingSpec, value: Any) -> bool:
    try:
        spec.kind.check(value)
    except SettingRefused:
        return False
    return True


def _unit(spec: SettingSpec) -> str:
    return f" {spec.unit}" if spec.unit else ""


@transaction.atomic
def practice_setting_change(*, actor, key: str, raw_value: str, reason: str) -> PracticeSetting:
    """The practice's own value for `key`, read from the text an admin typed. `actor` is None for a command."""
    spec = setting_spec(key)
    reason = _reason_given(_named(spec), reason)
    if len(raw_value) > MAX_VALUE_CHARS:
        raise SettingRefused(f"{_named(spec)} is longer than {MAX_VALUE_CHARS} characters.")
    try:
        value = spec.kind.parse(raw_value)
    except SettingRefused as problem:
        raise SettingRefused(f"{_named(spec)} {problem}.") from None
    _refuse_pairs_out_of_order(key=key, value=value, described="the new value")
    return practice_value_set(actor=actor, key=key, value=value, reason=reason)


@transaction.atomic
def practice_setting_reset(*, actor, key: str, reason: str) -> None:
    """Back to the cited default: the practice's own value is removed, and the audit trail keeps it.

    A stored key that no app declares any more (left by an older version) is removed the same way, so a
    reader that refuses unknown keys, such as the screening engine, can be unblocked."""
    spec = all_specs().get(key)
    row = PracticeSetting.objects.select_for_update().filter(key=key).first()
    if spec is None and row is None:
        setting_spec(key)  # refuses the unknown key, naming the known ones
    label = _named(spec) if spec else f"{key} (a setting Kapstone no longer uses)"
    reason = _reason_given(label, reason)
    if row is None:
        raise SettingRefused(f"{label} already follows the cited default.")
    if spec is not None:
        _refuse_pairs_out_of_order(key=key, value=spec.default, described="the cited default, after the reset")
    previous = row.value
    row.delete()
    detail = {"previous_value": previous, "reason": reason}
    audit.record(
        action=audit.Action.DELETE,
        actor=actor,
        object_type="practice_setting",
        object_id=key,
        detail=detail if spec else {**detail, "no_longer_used": True},
    )
