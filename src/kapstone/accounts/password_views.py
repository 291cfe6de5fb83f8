"""Passwords: set from an emailed link (portal invitation, staff set-up or reset), changed by their owner, reset by email."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import user_has_device

from kapstone.accounts import identity, selectors, services
from kapstone.accounts.forms import CountedPasswordChangeForm, NewPasswordForm, PasswordResetRequestForm
from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import Role
from kapstone.audit.middleware import client_ip


def _origin_only_referer(view):
    """The page's address is the link's secret: the requests it makes (its style sheet and scripts, its form) name
    only the site in their Referer, never the address, which a proxy's access log would keep. Not "no-referrer":
    a browser then sends its form with "Origin: null", which the CSRF check refuses."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "strict-origin"
        return response

    return wrapped


@public
@_origin_only_referer
@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def set_password(request, token):
    """The page an emailed link opens. Opening it spends nothing (mail scanners open links); saving does."""
    try:
        link = selectors.account_link_usable(token=token)
    except selectors.AccountLinkUnusable as problem:
        return render(request, "accounts/link_unusable.html", {"problem": str(problem)}, status=400)
    form = NewPasswordForm(link.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_set_by_link(token=token, password=form.cleaned_data["new_password1"])
        except selectors.AccountLinkUnusable as problem:
            return render(request, "accounts/link_unusable.html", {"problem": str(problem)}, status=400)
        if user.is_staff_member and not user_has_device(user):
            messages.success(
                request, "Your password is set. Sign in with it; you then set up an authenticator app for two-factor."
            )
        elif user.is_staff_member:
            messages.success(request, "Your password is set. Sign in with it and your authenticator code.")
        else:
            messages.success(request, "Your password is set. Sign in with your username and the new password.")
        return redirect("accounts:login")
    context = {"form": form, "username": link.user.get_username()}
    return render(request, "accounts/set_password.html", context, status=400 if form.errors else 200)


@public
@never_cache
def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(identifier=form.cleaned_data["identifier"], ip_address=client_ip(request))
        messages.info(
            request,
            "If a login matches, a link to reset its password is on its way to the email address on file.",
        )
        return redirect("accounts:login")
    return render(request, "accounts/password_reset.html", {"form": form}, status=400 if form.errors else 200)


@roles_required(*Role)
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@never_cache
def password_change(request):
    form = CountedPasswordChangeForm(request.user, request.POST or None, request=request)
    valid = request.method == "POST" and form.is_valid()
    if getattr(request, "axes_locked_out", False):
        return identity.locked_out_signed_out(request)
    if valid:
        services.password_change(user=request.user, password=form.cleaned_data["new_password1"])
        # This session carries on under the new password; every other session ends with the old one.
        update_session_auth_hash(request, request.user)
        messages.success(
            request,
            "Your password is changed. Your other sessions are signed out, and a calendar subscription link, if you "
            "had one, stops working: make a new one when you want it.",
        )
        return redirect("root")
    return render(request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200)
