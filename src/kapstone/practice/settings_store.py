"""Reads and writes practice settings: the cited default from a data file unless the practice has its own."""

from django.db import transaction

from kapstone.audit import services as audit
from kapstone.practice.models import PracticeSetting


def practice_value(key: str, default):
    row = PracticeSetting.objects.filter(key=key).only("value").first()
    return row.value if row is not None else default


def practice_overrides(prefix: str) -> dict:
    """All of a practice's own values whose keys start with `prefix.`, keyed without the prefix."""
    rows = PracticeSetting.objects.filter(key__startswith=f"{prefix}.")
    return {row.key.removeprefix(f"{prefix}."): row.value for row in rows}


@transaction.atomic
def practice_value_set(*, actor, key: str, value, reason: str) -> PracticeSetting:
    if not reason.strip():
        raise ValueError("Say why the practice departs from the cited default.")
    row, _ = PracticeSetting.objects.update_or_create(
        key=key, defaults={"value": value, "reason": reason, "updated_by": actor.get_username()}
    )
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="practice_setting",
        object_id=key,
        detail={"value": value, "reason": reason},
    )
    return row
