from django.urls import path

from kapstone.billing import views

app_name = "billing"
urlpatterns = [
    path("patient/<int:patient_id>/", views.account, name="account"),
    path("patient/<int:patient_id>/charges/", views.charge_add, name="charge_add"),
    path("patient/<int:patient_id>/payments/", views.payment, name="payment"),
    path("patient/<int:patient_id>/adjustments/", views.adjustment, name="adjustment"),
    path("patient/<int:patient_id>/payments/<int:entry_id>/refund/", views.refund, name="refund"),
    path("patient/<int:patient_id>/self-pay/", views.self_pay, name="self_pay"),
    path("patient/<int:patient_id>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("patient/<int:patient_id>/superbill.pdf", views.period_superbill_pdf, name="period_superbill_pdf"),
    path("patient/<int:patient_id>/visit/<int:session_id>/", views.visit_superbill, name="visit_superbill"),
    path("patient/<int:patient_id>/visit/<int:session_id>/charge/", views.visit_charges, name="visit_charges"),
    path(
        "patient/<int:patient_id>/visit/<int:session_id>/superbill.pdf",
        views.visit_superbill_pdf,
        name="visit_superbill_pdf",
    ),
    path("patient/<int:patient_id>/estimate/", views.estimate, name="estimate"),
    path("patient/<int:patient_id>/estimate.pdf", views.estimate_pdf, name="estimate_pdf"),
    path("fees/", views.fees, name="fees"),
    path("clinicians/", views.clinicians, name="clinicians"),
    path("clinicians/<int:user_id>/", views.clinician, name="clinician"),
    path("aging/", views.aging, name="aging"),
    path("export.csv", views.export, name="export"),
    path("my/", views.my_account, name="my_account"),
    path("my/statement.pdf", views.my_statement_pdf, name="my_statement_pdf"),
    path("my/superbill.pdf", views.my_period_superbill_pdf, name="my_period_superbill_pdf"),
    path("my/visit/<int:session_id>/superbill.pdf", views.my_superbill_pdf, name="my_superbill_pdf"),
]
