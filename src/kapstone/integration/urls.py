from django.urls import path

from kapstone.integration import views

app_name = "integration"
urlpatterns = [
    path("journal/", views.journal, name="journal"),
    path("journal/new/", views.journal_new, name="journal_new"),
    path("journal/export/", views.journal_export, name="journal_export"),
    path("journal/<int:entry_id>/", views.journal_entry, name="journal_entry"),
    path("journal/<int:entry_id>/share/", views.journal_share, name="journal_share"),
    path("journal/<int:entry_id>/image/", views.journal_image, name="journal_image"),
    path("my-timeline/", views.my_timeline, name="my_timeline"),
    path("notifications/", views.preferences, name="preferences"),
    path("adherence/", views.adherence, name="adherence"),
    path("patient/<int:patient_id>/timeline/", views.timeline, name="timeline"),
    path("patient/<int:patient_id>/notes/", views.note_add, name="note_add"),
    path("patient/<int:patient_id>/psychotherapy/", views.psychotherapy_notes, name="psychotherapy_notes"),
]
