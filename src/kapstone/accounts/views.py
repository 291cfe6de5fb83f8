import base64
from io import BytesIO

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device

from kapstone.accounts import identity, passkeys, second_step, selectors, services
from kapstone.accounts.forms import (
    ConfirmDeviceForm,
    ConfirmIdentityForm,
    LoginForm,
    SecondStepForm,
    code_device,
    count_failed_second_factor,
)
from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import STAFF_ROLES, Role
from kapstone.untrusted import same_site_address


def _home_for(user) -> str:
    return "portal:home" if user.is_patient else "home:home"


@public
@sensitive_post_parameters("password", "otp_token")
@csrf_protect
@never_cache
def login_view(request):
    if (
        request.method == "POST"
        and selectors.sign_in_failures_from(request=request) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
    ):
        # Refused before the password is checked, with the page a locked login gets: it names no one.
        return render(request, "accounts/locked_out.html", status=429)
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        next_url = same_site_address(request, request.POST.get("next") or request.GET.get("next"))
        if form.second_step_needed:
            second_step.begin(request, user=user, next_url=next_url)
            return redirect("accounts:sign_in_second_step")
        auth_login(request, user)
        if form.otp_device is not None:
            otp_login(request, form.otp_device)
        services.sign_in_record(user=user, two_factor=form.otp_device is not None)
        if user.is_staff_member and form.otp_device is None:
            return redirect("accounts:two_factor_setup")
        return redirect(next_url or _home_for(user))
    return render(request, "accounts/login.html", {"form": form, "next": request.GET.get("next", "")})


@public
@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def sign_in_second_step(request):
    """After a correct password, a staff member with two-factor gives the code from their app or uses a passkey
    (the passkey's answer goes to passkey_views.SignInComplete). Reachable only while the step lasts."""
    user = second_step.pending_user(request)
    if user is None:
        messages.info(request, "Enter your username and password to sign in.")
        return redirect("accounts:login")
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials=credentials):
        second_step.end(request)
        return get_lockout_response(request, credentials=credentials)
    form = SecondStepForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device = code_device(user, form.cleaned_data["otp_token"])
        if device is not None:
            next_url = second_step.next_url(request)
            second_step.complete(request, user=user, device=device, method="authenticator_app")
            return redirect(next_url or _home_for(user))
        count_failed_second_factor(user, request)
        form.add_error("otp_token", LoginForm.error_messages["otp_invalid"])
    context = {
        "form": form,
        "has_passkey": selectors.has_passkey(user=user),
        "has_app": selectors.has_code_device(user=user),
        "webauthn_config": passkeys.client_config(request),
    }
    return render(request, "accounts/sign_in_second_step.html", context, status=400 if form.errors else 200)


@roles_required(*STAFF_ROLES)
@sensitive_post_parameters("password")
@never_cache
def confirm_identity(request):
    """The password typed again before a change that hands out access or data (accounts.identity). A wrong one
    counts towards the lockout like a wrong password at sign-in; a login locked out is signed out here."""
    user = request.user
    next_url = same_site_address(request, request.POST.get("next") or request.GET.get("next"))
    form = ConfirmIdentityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credentials = {"username": user.get_username(), "password": form.cleaned_data["password"]}
        confirmed = authenticate(request, **credentials)
        if getattr(request, "axes_locked_out", False):
            return identity.locked_out_signed_out(request)
        if confirmed is not None and confirmed.pk == user.pk:
            identity.mark_confirmed(request)
            services.identity_confirm_record(user=user)
            return redirect(next_url or _home_for(user))
        form.add_error("password", "That is not your password.")
    context = {"form": form, "next": next_url, "minutes": identity.minutes_in_words()}
    return render(request, "accounts/confirm_identity.html", context, status=400 if form.errors else 200)


@public
@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        services.sign_out_record(user=request.user)
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


@roles_required(*Role)
@require_POST
@never_cache
def keep_alive(request):
    """The idle warning's "Stay signed in": this one restarts the session's idle clock in full, even just after
    another request pushed it (which may leave it a few seconds short, kapstone.accounts.sessions.db); it reads
    nothing, so it is not audited. Someone already signed out is sent to the sign-in page by roles_required, which
    the page's script takes as the session having ended."""
    request.session.modified = True
    return JsonResponse({"idle_seconds": request.session.get_expiry_age()})


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@public
@never_cache
def two_factor_setup(request):
    """First sign-in of a staff member without a device: enrol an authenticator app before anything else."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user.is_staff_member or user_has_device(user):
        return redirect(_home_for(user))
    device = services.two_factor_device_pending(user=user)
    form = ConfirmDeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"].replace(" ", "")):
            services.two_factor_device_confirm(actor=user, device=device)
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is set up.")
            return redirect(_home_for(user))
        form.add_error("otp_token", "That code does not match. Check the time on your phone and try again.")
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/two_factor_setup.html",
        {"form": form, "qr": _qr_svg(device.config_url), "secret": secret},
    )
