from django.urls import path

from kapstone.practice import views

app_name = "practice"
urlpatterns = [
    path("", views.home, name="home"),
    path("settings/", views.practice_settings, name="settings"),
]
