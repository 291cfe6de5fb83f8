"""Changing the practice's own settings: the one door the settings page and the command go through.

Every value is read and checked against the setting's declared kind (practice.registry) before anything is
written, so a value the app cannot use is refused with a message and nothing is saved.
"""

from django.db import transaction

from kapstone.audit import services as audit
from kapstone.practice.models import PracticeSetting
from kapstone.practice.registry import SettingRefused, SettingSpec, setting_spec
from kapstone.practice.settings_store import practice_value_set

# An input limit, not a clinical number: the longest setting (a whole assessment plan as JSON) is a few kB.
MAX_VALUE_CHARS = 20_000


def _reason_given(spec: SettingSpec, reason: str) -> str:
    if not reason or not reason.strip():
        raise SettingRefused(f"Say why the practice changes “{spec.label}” ({spec.key}): a reason is required.")
    return reason.strip()


@transaction.atomic
def practice_setting_change(*, actor, key: str, raw_value: str, reason: str) -> PracticeSetting:
    """The practice's own value for `key`, read from the text an admin typed. `actor` is None for a command."""
    spec = setting_spec(key)
    reason = _reason_given(spec, reason)
    if len(raw_value) > MAX_VALUE_CHARS:
        raise SettingRefused(f"“{spec.label}” ({spec.key}) is longer than {MAX_VALUE_CHARS} characters.")
    try:
        value = spec.kind.parse(raw_value)
    except SettingRefused as problem:
        raise SettingRefused(f"“{spec.label}” ({spec.key}) {problem}.") from None
    return practice_value_set(actor=actor, key=key, value=value, reason=reason)


@transaction.atomic
def practice_setting_reset(*, actor, key: str, reason: str) -> None:
    """Back to the cited default: the practice's own value is removed, and the audit trail keeps it."""
    spec = setting_spec(key)
    reason = _reason_given(spec, reason)
    row = PracticeSetting.objects.select_for_update().filter(key=key).first()
    if row is None:
        raise SettingRefused(f"“{spec.label}” ({spec.key}) already follows the cited default.")
    previous = row.value
    row.delete()
    audit.record(
        action=audit.Action.DELETE,
        actor=actor,
        object_type="practice_setting",
        object_id=key,
        detail={"previous_value": previous, "reason": reason},
    )
