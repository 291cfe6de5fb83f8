from django.urls import path

from kapstone.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("i/<str:token>/", views.invitation, name="invitation"),
    path("questionnaires/<int:assessment_id>/", views.questionnaire, name="questionnaire"),
    path("history/", views.history, name="history"),
]
