"""For admins: give a patient a portal login, see failed sign-ins and refused access, unlock locked logins."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone.accounts import selectors, services
from kapstone.accounts.forms import UnlockForm
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.patients.selectors import patient_get


@roles_required(*RECORD_ROLES)
@require_POST
def portal_invite(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="portal invitation")
    try:
        user = services.portal_invite(actor=request.user, patient=patient)
    except services.AccountError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"An invitation to choose a password is on its way to {user.email}.")
    return redirect("patients:detail", patient_id=patient.pk)


@roles_required(Role.ADMIN)
def security(request):
    context = {
        "locked": selectors.locked_accounts(request=request),
        "events": selectors.security_events(),
    }
    return render(request, "accounts/security.html", context)


@roles_required(Role.ADMIN)
@require_POST
def unlock(request):
    form = UnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a login to unlock.")
        return redirect("accounts:security")
    try:
        services.account_unlock(actor=request.user, username=form.cleaned_data["username"])
    except services.AccountError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{form.cleaned_data['username']} can sign in again.")
    return redirect("accounts:security")
