from django import forms

from kapstone.baseforms import Form


class SettingChangeForm(Form):
    """One setting's change or reset. Only the shape is checked here; the key, the value and the reason are
    checked by practice.services against the setting's declared kind, so the page and the command agree."""

    class Action:
        CHANGE = "change"
        RESET = "reset"

    key = forms.CharField(max_length=100)
    action = forms.ChoiceField(choices=[(Action.CHANGE, "Save"), (Action.RESET, "Reset to the cited default")])
    # practice.services bounds the value (MAX_VALUE_CHARS, naming the setting); a reason is a sentence or two that
    # the append-only audit trail keeps for good.
    value = forms.CharField(required=False, strip=False)
    reason = forms.CharField(required=False, max_length=500)


class ProposalDecisionForm(Form):
    """A prescriber's decision on a proposed change; practice.services requires the note for a decline."""

    class Decision:
        APPROVE = "approve"
        DECLINE = "decline"

    decision = forms.ChoiceField(choices=[(Decision.APPROVE, "Approve"), (Decision.DECLINE, "Decline")])
    note = forms.CharField(required=False, max_length=2000)
