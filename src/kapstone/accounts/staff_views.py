from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone.accounts import selectors, services
from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.accounts.staff_forms import StaffForm

STAFF_ACTIONS = {
    "deactivate": "Deactivate",
    "reactivate": "Reactivate",
    "reset_two_factor": "Reset two-factor",
    "unlock": "Unlock",
    "send_setup_link": "Send set-up link again",
}
# What each action did, said after it: "Louis Baptiste, DO: done." left the admin to guess what had changed.
STAFF_ACTION_DONE = {
    "deactivate": "{name} is deactivated and signed out everywhere.",
    "reactivate": "{name} can sign in again.",
    "reset_two_factor": "{name}'s second factors and password are removed and they are signed out everywhere; a "
    "link to choose a new password is on its way to them, then they set up a new authenticator app.",
    "unlock": "{name} can try signing in again.",
    "send_setup_link": "A new set-up link is on its way to {name}; the earlier one no longer works.",
}
# What an action that emails a set-up link did when the message could not be sent (the change itself is made).
STAFF_ACTION_UNSENT = {
    "reset_two_factor": "{name}'s second factors and password are removed, but no set-up link went out",
    "send_setup_link": "No set-up link went out to {name}",
}

# What each action that cannot be undone at a click does, asked before it is done: one click beside the others on a
# row, it was easy to press on the wrong row. Asked on a page of its own, so it works without the page's script.
STAFF_ACTION_CONFIRM = {
    "deactivate": "{name} will be signed out everywhere and cannot sign in until reactivated; the password links "
    "already emailed to them and their calendar subscription link stop working.",
    "reset_two_factor": "{name}'s authenticator apps, recovery codes, passkeys and password will be removed and they "
    "will be signed out everywhere; their calendar subscription link stops working. They are emailed a link to choose a new password, then set up a new "
    "authenticator app.",
}


@roles_required(Role.ADMIN)
@identity_confirmed("add staff", changes_only=True)
def staff_list(request):
    form = StaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.staff_create(actor=request.user, **form.cleaned_data)
        try:
            services.staff_setup_link_send(actor=request.user, staff=user)
        except (services.AccountError, services.StaffError) as problem:
            messages.warning(
                request,
                f"{user.display_name} is added, but no set-up link went out: {problem} Send it again from their row.",
            )
        else:
            messages.success(
                request,
                f"{user.display_name} is added. A link to choose their password is on its way to {user.email}; "
                "at their first sign-in they set up two-factor.",
            )
        return redirect("accounts:staff")
    staff = selectors.staff_logins()
    # Unlock is offered only on a locked login's row: on every row it said nothing about which were locked.
    locked = {attempt.username for attempt in selectors.locked_accounts(request=request)}
    return render(
        request,
        "accounts/staff_list.html",
        {"staff": staff, "form": form, "actions": STAFF_ACTIONS.items(), "locked": locked},
        status=400 if form.errors else 200,
    )


@roles_required(Role.ADMIN)
@require_POST
@identity_confirmed("change a staff login")
def staff_action(request, user_id, action):
    if action not in STAFF_ACTIONS:
        raise Http404
    staff = selectors.staff_login_get(user_id)
    if action in STAFF_ACTION_CONFIRM and request.POST.get("confirm") != "yes":
        context = {
            "person": staff,
            "action": action,
            "label": STAFF_ACTIONS[action],
            "consequence": STAFF_ACTION_CONFIRM[action].format(name=staff.display_name),
        }
        return render(request, "accounts/staff_action_confirm.html", context)
    try:
        if action in ("deactivate", "reactivate"):
            services.staff_set_active(actor=request.user, staff=staff, active=action == "reactivate")
        elif action == "reset_two_factor":
            services.staff_reset_two_factor(actor=request.user, staff=staff)
        elif action == "send_setup_link":
            services.staff_setup_link_send(actor=request.user, staff=staff)
        else:
            services.staff_unlock(actor=request.user, staff=staff)
    except services.StaffError as refusal:
        messages.error(request, str(refusal))
    except services.AccountError as unsent:
        messages.warning(
            request,
            f"{STAFF_ACTION_UNSENT[action].format(name=staff.display_name)}: {unsent} Send it again from their row.",
        )
    else:
        messages.success(request, STAFF_ACTION_DONE[action].format(name=staff.display_name))
    return redirect("accounts:staff")
