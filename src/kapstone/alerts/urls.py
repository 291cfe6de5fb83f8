from django.urls import path

from kapstone.alerts import views

app_name = "alerts"
urlpatterns = [
    path("<int:alert_id>/", views.alert_detail, name="detail"),
    path("rota/", views.rota, name="rota"),
    path("rota/slot/", views.rota_add, name="rota_add"),
    path("rota/slot/<int:slot_id>/remove/", views.rota_remove, name="rota_remove"),
    path("rota/default/", views.rota_default, name="rota_default"),
    path("paging/", views.paging_number, name="paging"),
    path("patient/<int:patient_id>/safety-plan/", views.safety_plan, name="safety_plan"),
    path("patient/<int:patient_id>/safety-plan/save/", views.safety_plan_save, name="safety_plan_save"),
    path("my-safety-plan/", views.my_safety_plan, name="my_safety_plan"),
]
