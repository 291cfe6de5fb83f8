from dataclasses import dataclass

from django.contrib import messages
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.practice import selectors, services
from kapstone.practice.forms import SettingChangeForm
from kapstone.practice.registry import SettingRefused, all_specs, setting_spec


@public
def root(request):
    if request.user.is_authenticated and request.user.is_patient:
        return redirect("portal:home")
    return redirect("practice:home")


@roles_required(*STAFF_ROLES)
def home(request):
    context = selectors.staff_home(user=request.user) if request.user.role != Role.RESEARCHER else {}
    return render(request, "practice/home.html", context)


@dataclass(frozen=True)
class RefusedChange:
    """What the admin typed, given back beside the setting with the reason it was refused."""

    key: str
    action: str
    message: str
    value: str
    reason: str

    @property
    def anchor(self) -> str:
        return selectors.setting_anchor(self.key)


def _apply(request, data: dict) -> str:
    """Applies one change or reset and says what happened; raises SettingRefused for unusable input."""
    if data["action"] == SettingChangeForm.Action.RESET:
        declared = all_specs().get(data["key"])
        services.practice_setting_reset(actor=request.user, key=data["key"], reason=data["reason"])
        if declared is None:
            return f"The stored value of {data['key']}, which Kapstone no longer uses, is removed."
        return f"“{declared.label}” follows the cited default again."
    services.practice_setting_change(
        actor=request.user, key=data["key"], raw_value=data["value"], reason=data["reason"]
    )
    return f"“{setting_spec(data['key']).label}” now uses the practice's own value."


@roles_required(Role.ADMIN)
def practice_settings(request):
    refused = None
    if request.method == "POST":
        form = SettingChangeForm(request.POST)
        if not form.is_valid():
            refused = RefusedChange("", "", "Choose a setting and whether to change it or reset it.", "", "")
        else:
            data = form.cleaned_data
            try:
                messages.success(request, _apply(request, data))
            except SettingRefused as problem:
                refused = RefusedChange(data["key"], data["action"], str(problem), data["value"], data["reason"])
            else:
                return redirect(f"{reverse('practice:settings')}#{selectors.setting_anchor(data['key'])}")
    return render(
        request,
        "practice/settings.html",
        {"overview": selectors.practice_settings_overview(), "refused": refused},
        status=400 if refused else 200,
    )


@public
@never_cache
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception as error:  # noqa: BLE001 - the health check reports any failure rather than raising
        database = f"error: {error.__class__.__name__}"
    healthy = database == "ok"
    return JsonResponse({"status": "ok" if healthy else "error", "database": database}, status=200 if healthy else 503)
