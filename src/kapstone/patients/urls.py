from django.urls import path

from kapstone.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("<int:patient_id>/", views.patient_detail, name="detail"),
    path("<int:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<int:patient_id>/care-team/", views.care_team_edit, name="care_team"),
    path("<int:patient_id>/childbearing/", views.childbearing_record, name="childbearing"),
    path("<int:patient_id>/portal-invitation/", views.portal_invite, name="portal_invite"),
    path("<int:patient_id>/audit/", views.patient_audit, name="audit"),
    path("<int:patient_id>/<slug:kind>/add/", views.record_part_add, name="part_add"),
    path("<int:patient_id>/<slug:kind>/<int:part_id>/remove/", views.record_part_remove, name="part_remove"),
]
