"""Reads and writes practice settings: the cited default from a data file unless the practice has its own.

A read never hands an app a stored value past the setting's hard bounds (practice.registry): a row written before
the bounds existed, or by hand in SQL, is held at the bound it crosses, and the settings page flags it.
"""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import JSONField, Q, QuerySet, Value

from kapstone.audit import context as audit_context
from kapstone.audit import services as audit
from kapstone.compiled_once import compiled_once
from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import hard_bounded_specs


def _within_hard_bounds(key: str, stored):
    spec = hard_bounded_specs().get(key)
    return spec.within_hard_bounds(stored) if spec is not None else stored


def practice_value(key: str, default):
    row = PracticeSetting.objects.filter(key=key).only("value").first()
    return _within_hard_bounds(key, row.value) if row is not None else default


def practice_value_of(prefix: str, name: str, default, overrides: Mapping[str, Any] | None = None):
    """The practice's value of `prefix.name`, else `default`: from `overrides` (practice_overrides(prefix)) when the
    caller read them with its other settings, else by a read of its own."""
    if overrides is None:
        return practice_value(f"{prefix}.{name}", default)
    return overrides.get(name, default)


@compiled_once()
def _settings_under(*prefixes: str) -> QuerySet[PracticeSetting]:
    """The stored settings under any of `prefixes`, compiled once for each set of prefixes (kapstone.compiled_once):
    the pages that read an app's settings on every view (billing's estimate, the dosing room) compiled it each time."""
    condition = Q()
    for prefix in prefixes:
        condition |= Q(key__startswith=f"{prefix}.")
    return PracticeSetting.objects.filter(condition).only("key", "value")


def practice_overrides(prefix: str) -> dict:
    """All of a practice's own values whose keys start with `prefix.`, keyed without the prefix."""
    return practice_overrides_of(prefix)[prefix]


def practice_overrides_of(*prefixes: str) -> dict[str, dict]:
    """practice_overrides of each prefix, keyed by prefix, from one read: a page that judges by the settings of
    several apps (the dosing room reads the dosing and the screening settings) reads them together."""
    overrides: dict[str, dict] = {prefix: {} for prefix in prefixes}
    for row in _settings_under(*prefixes):
        for prefix in prefixes:
            if row.key.startswith(f"{prefix}."):
                overrides[prefix][row.key.removeprefix(f"{prefix}.")] = _within_hard_bounds(row.key, row.value)
    return overrides


def actor_label(actor) -> str:
    """Who changed a setting: the signed-in person, else the command under way (see audit.context)."""
    if actor is not None:
        return actor.get_username()
    ambient = audit_context.current()
    return ambient.actor_label if ambient is not None else "system"


@transaction.atomic
def practice_value_set(*, actor, key: str, value, reason: str) -> PracticeSetting:
    """Stores a value as given, unchecked. Staff change settings through practice.services, which checks the
    value, its hard bounds and who may change it first; this is the low-level write it (and test set-up) uses."""
    if not reason.strip():
        raise ValueError("Say why the practice departs from the cited default.")
    # A bare None would be SQL NULL, which the column refuses; "none set" (a dose ceiling, say) is JSON null.
    stored = Value(None, JSONField()) if value is None else value
    row, _ = PracticeSetting.objects.update_or_create(
        key=key, defaults={"value": stored, "reason": reason, "updated_by": actor_label(actor)}
    )
    if value is None:
        row.refresh_from_db(fields=["value"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="practice_setting",
        object_id=key,
        detail={"value": value, "reason": reason},
    )
    return row
