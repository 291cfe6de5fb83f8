from django.urls import path

from kapstone.dosing import views

app_name = "dosing"
urlpatterns = [
    path("", views.session_list, name="sessions"),
    path("session/<int:session_id>/", views.session_room, name="room"),
    path("session/<int:session_id>/patient/<int:patient_id>/<slug:action>/", views.room_action, name="room_action"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/<slug:kind>/", views.ledger_action, name="ledger_action"),
]
