"""The site's entry points: where a signed-in person lands, the staff home and the health check."""

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.home import health, selectors


@public
def root(request):
    if request.user.is_authenticated and request.user.is_patient:
        return redirect("portal:home")
    return redirect("home:home")


@roles_required(*STAFF_ROLES)
def home(request):
    context = selectors.staff_home(user=request.user) if request.user.role != Role.RESEARCHER else {}
    return render(request, "home/home.html", context)


@public
@never_cache
def healthz(request):
    checked = health.states()
    healthy = all(state == health.OK for state in checked.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checked}, status=200 if healthy else 503)
