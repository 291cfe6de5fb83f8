from django.urls import path

from kapstone.accounts import passkey_views, password_views, security_views, staff_views, views
from kapstone.accounts.identity import identity_confirmed
from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import STAFF_ROLES

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/second-step/", views.sign_in_second_step, name="sign_in_second_step"),
    # Open to anyone, but they answer only for the session's own second step (a fresh, correct password).
    path("login/passkey/begin/", public(passkey_views.SignInBegin.as_view()), name="passkey_sign_in_begin"),
    path("login/passkey/complete/", public(passkey_views.SignInComplete.as_view()), name="passkey_sign_in_complete"),
    path("logout/", views.logout_view, name="logout"),
    path("confirm/", views.confirm_identity, name="confirm_identity"),
    path("keep-alive/", views.keep_alive, name="keep_alive"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/", passkey_views.two_factor, name="two_factor"),
    path(
        "two-factor/passkeys/begin/",
        roles_required(*STAFF_ROLES)(identity_confirmed("add a passkey")(passkey_views.EnrolBegin.as_view())),
        name="passkey_enrol_begin",
    ),
    path(
        "two-factor/passkeys/complete/",
        roles_required(*STAFF_ROLES)(identity_confirmed("add a passkey")(passkey_views.EnrolComplete.as_view())),
        name="passkey_enrol_complete",
    ),
    path("two-factor/passkeys/<int:passkey_id>/remove/", passkey_views.passkey_remove, name="passkey_remove"),
    path("password/", password_views.password_change, name="password_change"),
    path("password/reset/", password_views.password_reset, name="password_reset"),
    path("password/set/<str:token>/", password_views.set_password, name="set_password"),
    path("security/", security_views.security, name="security"),
    path("security/unlock/", security_views.unlock, name="unlock"),
    path("staff/", staff_views.staff_list, name="staff"),
    path("staff/<int:user_id>/<slug:action>/", staff_views.staff_action, name="staff_action"),
]
