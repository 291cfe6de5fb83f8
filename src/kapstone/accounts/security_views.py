"""For admins: see failed sign-ins and refused access, unlock locked logins."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone.accounts import selectors, services
from kapstone.accounts.forms import UnlockForm
from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role


@roles_required(Role.ADMIN)
def security(request):
    context = {
        "locked": selectors.locked_accounts(request=request),
        "events": selectors.security_events(),
    }
    return render(request, "accounts/security.html", context)


@roles_required(Role.ADMIN)
@require_POST
@identity_confirmed("unlock a login")
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
