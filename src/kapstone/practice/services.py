"""Changing the practice's own settings: the one door the settings page and the command go through.

Every value is read and checked against the setting's declared kind (practice.registry) and its hard bounds
before anything is written, and every ordered pair the setting belongs to is checked against the values that
would then be in force, so a value the app cannot use, a value past what its source allows, or a set of values
the app cannot use together, is refused with a message and nothing is saved.

Who: a clinical setting is changed by a prescriber (the medical director is one); an admin proposes the change
(SettingProposal) and another person, a prescriber, approves it, every check running again at approval, or
declines it with a note. Operational settings (wording, reminder times, opening hours) are the admin's.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.practice.authority import may_change, may_change_clinical, may_propose
from kapstone.practice.models import PracticeSetting, SettingProposal
from kapstone.practice.registry import SettingRefused, SettingSpec, all_specs, pairs_with, setting_spec
from kapstone.practice.settings_store import actor_label, practice_value_set


class ProposalNotFound(SettingRefused):
    """No proposal has that id; the page answers 404."""


def _refuse_unless_may_change(actor: User | None, spec: SettingSpec) -> None:
    if may_change(actor, spec):
        return
    if spec.clinical:
        proposing = " As the practice admin, propose the change instead." if may_propose(actor, spec) else ""
        who = f"{actor_label(actor)} is not" if actor is not None else "this command names no"
        raise SettingRefused(
            f"{_named(spec)} is a clinical setting: a prescriber (or the medical director) changes it, and "
            f"{who} one.{proposing}"
        )
    raise SettingRefused(f"{_named(spec)} is an operational setting: the practice admin changes it.")


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


def _refuse_past_hard_bound(spec: SettingSpec, value: Any) -> None:
    past = spec.past_hard_bound(value)
    if past:
        raise SettingRefused(f"{_named(spec)} {past}.")


def _checked(spec: SettingSpec, raw_value: str) -> Any:
    """The value `raw_value` gives for `spec`, within the kind's input limits and the hard bounds."""
    if len(raw_value) > MAX_VALUE_CHARS:
        raise SettingRefused(f"{_named(spec)} is longer than {MAX_VALUE_CHARS} characters.")
    try:
        value = spec.kind.parse(raw_value)
    except SettingRefused as problem:
        raise SettingRefused(f"{_named(spec)} {problem}.") from None
    _refuse_past_hard_bound(spec, value)
    return value


def _usable(spec: SettingSpec, value: Any) -> bool:
    try:
        spec.kind.check(value)
    except SettingRefused:
        return False
    return True


def _unit(spec: SettingSpec) -> str:
    return f" {spec.unit}" if spec.unit else ""


@transaction.atomic
def practice_setting_change(*, actor: User | None, key: str, raw_value: str, reason: str) -> PracticeSetting:
    """The practice's own value for `key`, read from the text typed. `actor` is None for a command run without
    --by, which may change operational settings only."""
    spec = setting_spec(key)
    _refuse_unless_may_change(actor, spec)
    reason = _reason_given(_named(spec), reason)
    value = _checked(spec, raw_value)
    _refuse_pairs_out_of_order(key=key, value=value, described="the new value")
    return practice_value_set(actor=actor, key=key, value=value, reason=reason)


def _reset(*, actor: User | None, key: str, spec: SettingSpec | None, reason: str) -> None:
    """Removes the practice's own value (the audit trail keeps it); `spec` is None for a key no app declares."""
    label = _named(spec) if spec else f"{key} (a setting Kapstone no longer uses)"
    row = PracticeSetting.objects.select_for_update().filter(key=key).first()
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


@transaction.atomic
def practice_setting_reset(*, actor: User | None, key: str, reason: str) -> None:
    """Back to the cited default: the practice's own value is removed, and the audit trail keeps it.

    A stored key that no app declares any more (left by an older version) is removed the same way, by an admin
    or a prescriber, so a reader that refuses unknown keys, such as the screening engine, can be unblocked."""
    spec = all_specs().get(key)
    if spec is None:
        if not PracticeSetting.objects.filter(key=key).exists():
            setting_spec(key)  # refuses the unknown key, naming the known ones
        if actor is not None and not (actor.role == Role.ADMIN or may_change_clinical(actor)):
            raise SettingRefused(f"{key} is removed by the practice admin or a prescriber.")
    else:
        _refuse_unless_may_change(actor, spec)
    label = _named(spec) if spec else f"{key} (a setting Kapstone no longer uses)"
    _reset(actor=actor, key=key, spec=spec, reason=_reason_given(label, reason))


# --- proposals: an admin proposes a clinical change, a prescriber approves or declines it -------------------


@transaction.atomic
def setting_change_propose(*, actor: User, key: str, action: str, raw_value: str = "", reason: str) -> SettingProposal:
    """An admin's proposed change (or reset) of a clinical setting, checked now as it would be applied, so a
    proposal a prescriber is asked to approve is one that could take effect; nothing changes until then."""
    spec = setting_spec(key)
    if not may_propose(actor, spec):
        if not spec.clinical:
            raise SettingRefused(f"{_named(spec)} is an operational setting: the practice admin changes it directly.")
        raise SettingRefused(f"{_named(spec)} is changed by a prescriber directly; the practice admin proposes.")
    reason = _reason_given(_named(spec), reason)
    if action == SettingProposal.Action.CHANGE:
        value = _checked(spec, raw_value)
        _refuse_pairs_out_of_order(key=key, value=value, described="the proposed value")
    elif action == SettingProposal.Action.RESET:
        value = None
        if not PracticeSetting.objects.filter(key=key).exists():
            raise SettingRefused(f"{_named(spec)} already follows the cited default.")
        _refuse_pairs_out_of_order(key=key, value=spec.default, described="the cited default, after the reset")
    else:
        raise SettingRefused(f"A proposal changes a setting or resets it, not {action!r}.")
    proposal = SettingProposal.objects.create(key=key, action=action, value=value, reason=reason, proposed_by=actor)
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="practice_setting_proposal",
        object_id=proposal.pk,
        detail={"key": key, "proposal": action, "value": value, "reason": reason},
    )
    return proposal


def _pending_for_decision(*, actor: User, proposal_id: int) -> SettingProposal:
    """The proposal, locked until this transaction ends so two prescribers cannot both decide it."""
    proposal = SettingProposal.objects.select_for_update().select_related("proposed_by").filter(pk=proposal_id).first()
    if proposal is None:
        raise ProposalNotFound(f"There is no proposal {proposal_id}.")
    if proposal.status != SettingProposal.Status.PENDING:
        decider = proposal.decided_by  # always set once decided (a check constraint), unless the login is gone
        raise SettingRefused(
            f"This proposal was already {proposal.get_status_display().lower()} by "
            f"{decider.get_username() if decider else 'someone'}; a proposal is decided once."
        )
    if not may_change_clinical(actor):
        raise SettingRefused("A prescriber (or the medical director) approves or declines a proposed change.")
    if proposal.proposed_by_id == actor.pk:
        raise SettingRefused("You proposed this change: another person, a prescriber, approves or declines it.")
    return proposal


def _decided(proposal: SettingProposal, *, actor: User, status: str, note: str) -> SettingProposal:
    proposal.status, proposal.decided_by, proposal.decided_at = status, actor, timezone.now()
    proposal.decision_note = note
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="practice_setting_proposal",
        object_id=proposal.pk,
        detail={"key": proposal.key, "decision": status, "note": note},
    )
    return proposal


@transaction.atomic
def setting_proposal_approve(*, actor: User, proposal_id: int, note: str = "") -> SettingProposal:
    """Applies a pending proposal under the approver's name, running every check again against the settings in
    force now (another change may have landed since it was proposed)."""
    proposal = _pending_for_decision(actor=actor, proposal_id=proposal_id)
    spec = setting_spec(proposal.key)
    reason = f"{proposal.reason} (proposed by {proposal.proposed_by.get_username()})"
    if proposal.action == SettingProposal.Action.RESET:
        _reset(actor=actor, key=proposal.key, spec=spec, reason=reason)
    else:
        try:
            spec.kind.check(proposal.value)
        except SettingRefused as problem:
            raise SettingRefused(f"{_named(spec)} {problem}.") from None
        _refuse_past_hard_bound(spec, proposal.value)
        _refuse_pairs_out_of_order(key=proposal.key, value=proposal.value, described="the proposed value")
        practice_value_set(actor=actor, key=proposal.key, value=proposal.value, reason=reason)
    return _decided(proposal, actor=actor, status=SettingProposal.Status.APPROVED, note=note.strip())


@transaction.atomic
def setting_proposal_decline(*, actor: User, proposal_id: int, note: str) -> SettingProposal:
    proposal = _pending_for_decision(actor=actor, proposal_id=proposal_id)
    if not note or not note.strip():
        raise SettingRefused("Say why the proposal is declined: a note is required.")
    return _decided(proposal, actor=actor, status=SettingProposal.Status.DECLINED, note=note.strip())
