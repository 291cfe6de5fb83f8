from django.urls import path

from kapstone.accounts import password_views, security_views, staff_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("keep-alive/", views.keep_alive, name="keep_alive"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("password/", password_views.password_change, name="password_change"),
    path("password/reset/", password_views.password_reset, name="password_reset"),
    path("password/set/<str:token>/", password_views.set_password, name="set_password"),
    path("portal-invitation/<int:patient_id>/", security_views.portal_invite, name="portal_invite"),
    path("security/", security_views.security, name="security"),
    path("security/unlock/", security_views.unlock, name="unlock"),
    path("staff/", staff_views.staff_list, name="staff"),
    path("staff/<int:user_id>/<slug:action>/", staff_views.staff_action, name="staff_action"),
]
