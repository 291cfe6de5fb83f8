from django.urls import path

from kapstone.creativity import views

app_name = "creativity"
urlpatterns = [
    path("my/", views.my_tasks, name="my_tasks"),
    path("my/history/", views.my_history, name="my_history"),
    path("my/<int:administration_id>/", views.my_task, name="my_task"),
    path("my/<int:administration_id>/autosave/", views.my_autosave, name="my_autosave"),
    path("patient/<int:patient_id>/", views.patient_creativity, name="patient"),
    path("patient/<int:patient_id>/schedule/", views.schedule, name="schedule"),
    path("patient/<int:patient_id>/<int:administration_id>/", views.administration_detail, name="administration"),
    path("group/<int:group_id>/schedule/", views.schedule_group, name="schedule_group"),
]
