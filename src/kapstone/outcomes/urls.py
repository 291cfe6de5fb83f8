from django.urls import path

from kapstone.outcomes import views

app_name = "outcomes"
urlpatterns = [
    path("", views.report_page, name="report"),
    path("report.pdf", views.report_pdf, name="report_pdf"),
    path("research-export/", views.research_export, name="research_export"),
]
