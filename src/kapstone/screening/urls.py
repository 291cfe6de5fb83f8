from django.urls import path

from kapstone.screening import views

app_name = "screening"
urlpatterns = [
    path("", views.screening_list, name="list"),
    path("patients/<int:patient_id>/", views.patient_screening, name="patient"),
    path("patients/<int:patient_id>/intake/", views.intake_edit, name="intake"),
    path("patients/<int:patient_id>/rescreen/", views.rescreen, name="rescreen"),
    path("patients/<int:patient_id>/consultations/", views.consultation_add, name="consultation_add"),
    path("patients/<int:patient_id>/consent/paper/", views.consent_paper, name="consent_paper"),
    path("results/<int:result_id>/override/", views.override, name="override"),
    path("consultations/<int:consultation_id>/reply/", views.reply_download, name="reply"),
    path("consultations/<int:consultation_id>/override/", views.advice_override, name="advice_override"),
    path("consents/<int:signature_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("my/", views.portal_screening, name="portal"),
    path("my/pre-intake/", views.portal_pre_intake, name="portal_pre_intake"),
    path("my/consent/", views.portal_consent, name="portal_consent"),
    path("my/consent/withdraw/", views.portal_consent_withdraw, name="portal_consent_withdraw"),
]
