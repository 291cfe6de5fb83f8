"""What changed between two intakes, and why a screening decision moved: pure functions over plain dicts."""

from typing import Any


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {_describe(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(_describe(item) for item in value) if value else "none"
    return str(value)


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted paths; lists stay whole (an entry's position means nothing to a reader)."""
    flat = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def intake_changes(before: dict, after: dict) -> list[dict]:
    """Each field whose value differs, as {"field", "before", "after"} in readable words, in path order."""
    old, new = _flatten(before), _flatten(after)
    changed = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) != new.get(path):
            changed.append({"field": path, "before": _describe(old.get(path)), "after": _describe(new.get(path))})
    return changed


def reason_changes(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict]]:
    """(reasons that fired now but not before, reasons that fired before but not now), matched by rule id; a
    rule that fired both times with a different message (a changed value) counts as removed and added."""
    old = {(reason["rule"], reason["message"]): reason for reason in before}
    new = {(reason["rule"], reason["message"]): reason for reason in after}
    added = [reason for key, reason in new.items() if key not in old]
    removed = [reason for key, reason in old.items() if key not in new]
    return added, removed


def merge_draft(base: dict, draft: dict) -> dict:
    """`base` with what a draft gave laid over it: dicts merge key by key, and a draft's non-empty list or
    non-null value replaces the base's (a patient's pre-intake says nothing about what it leaves out)."""
    merged = dict(base)
    for key, value in draft.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_draft(base[key], value)
        elif value is not None and value != []:
            merged[key] = value
    return merged
