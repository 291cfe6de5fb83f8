from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.practice import authority, selectors, services
from kapstone.practice.forms import ProposalDecisionForm, SettingChangeForm
from kapstone.practice.registry import SettingRefused, all_specs, setting_spec


@dataclass(frozen=True)
class RefusedChange:
    """What was typed, given back beside the setting (or the proposal) with the reason it was refused."""

    key: str
    action: str
    message: str
    value: str
    reason: str
    proposal_id: int | None = None

    @property
    def anchor(self) -> str:
        return f"proposal-{self.proposal_id}" if self.proposal_id else selectors.setting_anchor(self.key)


def _apply(request, data: dict) -> str:
    """Applies one change or reset, or proposes it where the admin changes a clinical setting, and says what
    happened; raises SettingRefused for unusable input or a change this person may not make."""
    declared = all_specs().get(data["key"])
    if declared is not None and authority.may_propose(request.user, declared):
        services.setting_change_propose(
            actor=request.user,
            key=data["key"],
            action=data["action"],
            raw_value=data["value"],
            reason=data["reason"],
        )
        return f"Your proposal for “{declared.label}” waits for a prescriber to approve it; nothing has changed yet."
    if data["action"] == SettingChangeForm.Action.RESET:
        services.practice_setting_reset(actor=request.user, key=data["key"], reason=data["reason"])
        if declared is None:
            return f"The stored value of {data['key']}, which Kapstone no longer uses, is removed."
        return f"“{declared.label}” follows the cited default again."
    services.practice_setting_change(
        actor=request.user, key=data["key"], raw_value=data["value"], reason=data["reason"]
    )
    return f"“{setting_spec(data['key']).label}” now uses the practice's own value."


def _refused_shape(request, form: SettingChangeForm) -> RefusedChange:
    """A change of a known shape but with a field over its length (a long reason) goes back beside its setting
    with what to shorten and what was typed: a generic message lost a prescriber's written reason."""
    if "key" in form.errors or "action" in form.errors:
        return RefusedChange("", "", "Choose a setting and whether to change it or reset it.", "", "")
    problem = " ".join(f"{name.capitalize()}: {error}" for name, errors in form.errors.items() for error in errors)
    return RefusedChange(
        form.cleaned_data["key"],
        form.cleaned_data["action"],
        problem,
        request.POST.get("value", ""),
        request.POST.get("reason", ""),
    )


def _settings_page(request, *, refused: RefusedChange | None = None):
    return render(
        request,
        "practice/settings.html",
        {"overview": selectors.practice_settings_overview(user=request.user), "refused": refused},
        status=400 if refused else 200,
    )


@roles_required(Role.ADMIN, Role.PRESCRIBER)
@identity_confirmed("change a practice setting", changes_only=True)
def practice_settings(request):
    """Every setting with its bounds and source. Prescribers change clinical settings and decide proposals;
    the admin changes operational settings and proposes clinical changes."""
    if request.method != "POST":
        return _settings_page(request)
    form = SettingChangeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, refused=_refused_shape(request, form))
    data = form.cleaned_data
    try:
        messages.success(request, _apply(request, data))
    except SettingRefused as problem:
        refused = RefusedChange(data["key"], data["action"], str(problem), data["value"], data["reason"])
        return _settings_page(request, refused=refused)
    return redirect(f"{reverse('practice:settings')}#{selectors.setting_anchor(data['key'])}")


@roles_required(Role.PRESCRIBER)
@require_POST
@identity_confirmed("decide on a setting change")
def setting_proposal_decide(request, proposal_id: int):
    """A prescriber approves a proposed change (applying it after every check runs again) or declines it."""
    form = ProposalDecisionForm(request.POST)
    note = request.POST.get("note", "")
    if not form.is_valid():
        message = "Choose whether to approve or decline the proposal."
        return _settings_page(request, refused=RefusedChange("", "", message, "", note, proposal_id=proposal_id))
    decision = form.cleaned_data["decision"]
    try:
        if decision == ProposalDecisionForm.Decision.APPROVE:
            proposal = services.setting_proposal_approve(actor=request.user, proposal_id=proposal_id, note=note)
            messages.success(request, f"Approved: {proposal.key} now follows the proposal.")
        else:
            proposal = services.setting_proposal_decline(actor=request.user, proposal_id=proposal_id, note=note)
            messages.success(request, f"Declined: {proposal.key} is unchanged.")
    except services.ProposalNotFound:
        raise Http404("No such proposal") from None
    except SettingRefused as problem:
        return _settings_page(
            request, refused=RefusedChange("", decision, str(problem), "", note, proposal_id=proposal_id)
        )
    return redirect(f"{reverse('practice:settings')}#{selectors.setting_anchor(proposal.key)}")
