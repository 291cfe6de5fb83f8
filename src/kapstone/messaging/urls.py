from django.urls import path

from kapstone.messaging import views

app_name = "messaging"
urlpatterns = [
    path("my/", views.my_threads, name="my_threads"),
    path("my/<int:thread_id>/", views.my_thread, name="my_thread"),
    path("inbox/", views.inbox, name="inbox"),
    path("patient/<int:patient_id>/", views.patient_threads, name="patient_threads"),
    path("patient/<int:patient_id>/<int:thread_id>/", views.thread, name="thread"),
    path("attachment/<int:message_id>/", views.attachment, name="attachment"),
    path("sessions/<int:session_id>/request/", views.request_change, name="request_change"),
    path("requests/<int:request_id>/decide/", views.request_decide, name="request_decide"),
]
