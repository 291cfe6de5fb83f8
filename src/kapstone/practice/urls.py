from django.urls import path

from kapstone.practice import views

app_name = "practice"
urlpatterns = [
    path("settings/", views.practice_settings, name="settings"),
    path("settings/proposals/<int:proposal_id>/", views.setting_proposal_decide, name="setting_proposal_decide"),
]
