from django.urls import path

from kapstone.measures import views

app_name = "measures"
urlpatterns = [
    path("patient/<int:patient_id>/", views.patient_measures, name="patient"),
    path("patient/<int:patient_id>/total/", views.enter_total, name="enter_total"),
    path("patient/<int:patient_id>/total/<int:assessment_id>/amend/", views.amend_total, name="amend_total"),
    path("patient/<int:patient_id>/urine-toxicology/", views.record_urine_toxicology, name="urine_toxicology"),
    path("patient/<int:patient_id>/start/", views.start_questionnaire, name="start"),
    path("patient/<int:patient_id>/assessment/<int:assessment_id>/", views.record_questionnaire, name="record"),
    path("alerts/", views.alert_queue, name="alerts"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("alerts/<int:alert_id>/correct-finding/", views.alert_finding_correct, name="correct_finding"),
    path("group/<int:group_id>/schedule/", views.schedule_group, name="schedule_group"),
]
