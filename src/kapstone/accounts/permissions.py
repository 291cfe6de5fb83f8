"""One door for every view: who may open it.

Anonymous people go to the login page; staff who have not passed two-factor go to the second step (or to
enrolment if they have no device yet); a signed-in person whose role may not use the view gets 403. Object
access is narrowed further by the selectors, which answer 404 so nothing leaks whether a record exists.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django_otp import user_has_device

from kapstone.accounts.roles import Role


def roles_required(*roles: Role):
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.is_staff_member and not user.is_verified():
                if user_has_device(user):
                    return redirect_to_login(request.get_full_path())
                return redirect("accounts:two_factor_setup")
            if user.role not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.allowed_roles = allowed
        return wrapped

    return decorator


def public(view):
    """Marks a view that anyone may open (login, health check); the permission matrix checks the mark."""
    view.allowed_roles = None
    return view
