from django.urls import path

from kapstone.accounts import staff_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("staff/", staff_views.staff_list, name="staff"),
    path("staff/<int:user_id>/<slug:action>/", staff_views.staff_action, name="staff_action"),
]
