"""What the practice settings page shows: every declared setting, its cited default and the practice's own value,
and the proposals waiting for a prescriber."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kapstone.accounts.models import User
from kapstone.practice import authority, registry
from kapstone.practice.models import PracticeSetting, SettingProposal


def setting_anchor(key: str) -> str:
    """The id of a setting's card on the settings page, so a redirect lands beside the setting just changed."""
    return "setting-" + key.replace(".", "-")


@dataclass(frozen=True)
class PendingProposal:
    """An admin's proposed change waiting for a prescriber, as the settings page shows it."""

    proposal: SettingProposal
    spec: registry.SettingSpec | None  # None if the setting is no longer declared (approval then refuses it)

    @property
    def anchor(self) -> str:
        return f"proposal-{self.proposal.pk}"

    @property
    def setting_anchor(self) -> str:
        return setting_anchor(self.proposal.key)

    @property
    def label(self) -> str:
        return self.spec.label if self.spec else self.proposal.key

    @property
    def value_text(self) -> str:
        if self.proposal.action == SettingProposal.Action.RESET:
            return "the cited default"
        if self.spec is None:
            return json.dumps(self.proposal.value, ensure_ascii=False)
        value: Any = self.proposal.value  # Any: a proposal's value is JSON, checked against the spec when proposed
        return self.spec.kind.to_text(value) or "none set"


@dataclass(frozen=True)
class SettingRow:
    spec: registry.SettingSpec
    stored: PracticeSetting | None
    default_text: str
    in_force_text: str
    # Why the stored value cannot be used (set before values were checked, or by hand), "" when it can.
    problem: str
    # The hard bound a stored value crosses (written before the bounds existed, or by hand): the apps are given
    # the bound instead, which in_force_text shows; "" when it crosses none.
    past_bound: str = ""
    may_change: bool = False
    may_propose: bool = False
    pending: tuple[PendingProposal, ...] = ()

    @property
    def anchor(self) -> str:
        return setting_anchor(self.spec.key)

    @property
    def in_force_display(self) -> str:
        return self._display(self.in_force_text)

    @property
    def default_display(self) -> str:
        return self._display(self.default_text)

    def _display(self, text: str) -> str:
        """A chosen option in the words its select shows (needs review), never its stored code; a structured value
        (Json) in its own words where it has them, else as an outline to read, its keys and bulleted items, never
        the JSON its box is edited in."""
        kind = self.spec.kind
        labels: dict[str, str] = dict(getattr(kind, "choices", ()))
        if isinstance(kind, registry.Json) and text and text[0] in "{[":
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                return text
            if kind.in_words is not None:
                try:
                    kind.check(value)
                except registry.SettingRefused:
                    pass  # an unusable stored value (its problem is shown beside it) is shown as it is kept
                else:
                    return kind.in_words(value)
            return _outline(value, labels=dict(kind.key_labels))
        return labels.get(text, text)

    @property
    def form_text(self) -> str:
        """What the change form starts with: the value in force, or the cited default if that is unusable."""
        return self.default_text if self.problem else self.in_force_text


@dataclass(frozen=True)
class SettingArea:
    name: str
    rows: list[SettingRow]


def _row(
    spec: registry.SettingSpec,
    stored: PracticeSetting | None,
    *,
    may_change: bool,
    may_propose: bool,
    pending: tuple[PendingProposal, ...],
) -> SettingRow:
    default_text = spec.kind.to_text(spec.default)
    in_force, problem, past = default_text, "", ""
    if stored is not None:
        try:
            spec.kind.check(stored.value)
        except registry.SettingRefused as refused:
            in_force = default_text if spec.has_hard_bounds else json.dumps(stored.value, ensure_ascii=False)
            problem = str(refused)
        else:
            past = spec.past_hard_bound(stored.value)
            in_force = spec.kind.to_text(spec.within_hard_bounds(stored.value))
    return SettingRow(
        spec,
        stored,
        default_text,
        in_force,
        problem,
        past_bound=past,
        may_change=may_change,
        may_propose=may_propose,
        pending=pending,
    )


@dataclass(frozen=True)
class UnusedSetting:
    """A stored value whose key no app declares (left by an older version, or set by hand). Nothing uses it,
    but a reader that refuses unknown keys (the screening engine) stops until it is removed."""

    stored: PracticeSetting

    @property
    def anchor(self) -> str:
        return setting_anchor(self.stored.key)

    @property
    def value_text(self) -> str:
        return json.dumps(self.stored.value, ensure_ascii=False)


@dataclass(frozen=True)
class SettingsOverview:
    areas: list[SettingArea]
    no_longer_used: list[UnusedSetting]  # by key
    pending: list[PendingProposal]  # oldest first
    may_decide: bool  # whether the viewer approves or declines proposals


def practice_settings_overview(*, user: User | None = None) -> SettingsOverview:
    """Every declared setting by area, with the practice's own value where it has one, what `user` may do
    with it, the proposals waiting for a prescriber, and the stored values no app declares (two queries)."""
    stored = {row.key: row for row in PracticeSetting.objects.all()}
    specs = registry.all_specs()
    pending = [
        PendingProposal(proposal, specs.get(proposal.key))
        for proposal in SettingProposal.objects.filter(status=SettingProposal.Status.PENDING).select_related(
            "proposed_by"
        )
    ]
    by_key: dict[str, list[PendingProposal]] = {}
    for item in pending:
        by_key.setdefault(item.proposal.key, []).append(item)
    return SettingsOverview(
        areas=[
            SettingArea(
                area.name,
                [
                    _row(
                        spec,
                        stored.get(spec.key),
                        may_change=user is not None and authority.may_change(user, spec),
                        may_propose=user is not None and authority.may_propose(user, spec),
                        pending=tuple(by_key.get(spec.key, ())),
                    )
                    for spec in area.specs
                ],
            )
            for area in registry.areas()
        ],
        no_longer_used=[UnusedSetting(stored[key]) for key in sorted(stored) if key not in specs],
        pending=pending,
        may_decide=user is not None and authority.may_change_clinical(user),
    )


def _outline(value: Any, depth: int = 0, *, labels: Mapping[str, str] | None = None) -> str:
    """A JSON value as indented lines: a mapping's keys each on a line with what they hold under them, a list's items
    each after a bullet, text as it is. The outermost mapping's keys are shown in their `labels` where they have one
    (Json.key_labels)."""
    indent = "  " * depth
    if isinstance(value, dict):
        if not value:
            return f"{indent}(none)"
        named = labels or {}
        return "\n".join(
            f"{indent}{named.get(key, key)}: {item}"
            if not isinstance(item, (dict, list))
            else f"{indent}{named.get(key, key)}\n{_outline(item, depth + 1)}"
            for key, item in value.items()
        )
    if isinstance(value, list):
        if not value:
            return f"{indent}(none)"
        return "\n".join(
            f"{indent}• {item}" if not isinstance(item, (dict, list)) else _outline(item, depth + 1) for item in value
        )
    return f"{indent}{value}"
