from django.urls import path

from kapstone.dosing import views

app_name = "dosing"
urlpatterns = [
    path("", views.session_list, name="sessions"),
    path("session/<int:session_id>/", views.session_room, name="room"),
    path("session/<int:session_id>/patient/<int:patient_id>/<slug:action>/", views.room_action, name="room_action"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/export.<slug:fmt>", views.ledger_export, name="ledger_export"),
    path("ledger/registrations/", views.registrations, name="registrations"),
    path("ledger/registrations/<slug:kind>/", views.registration_action, name="registration_action"),
    path("ledger/loss-report/<int:report_id>/", views.loss_report, name="loss_report"),
    path("ledger/<slug:kind>/", views.ledger_action, name="ledger_action"),
]
