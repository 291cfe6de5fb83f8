from django.urls import path

from kapstone.program import views

app_name = "program"
urlpatterns = [
    path("", views.group_list, name="groups"),
    path("groups/new/", views.group_create, name="group_create"),
    path("groups/<int:group_id>/", views.group_detail, name="group"),
    path("groups/<int:group_id>/enrol/", views.enrol, name="enrol"),
    path("groups/<int:group_id>/waitlist/", views.waitlist, name="waitlist"),
    path("groups/<int:group_id>/plan/", views.plan, name="plan"),
    path("groups/<int:group_id>/plan/confirm/", views.plan_confirm, name="plan_confirm"),
    path("enrolments/<int:enrolment_id>/withdraw/", views.withdraw, name="withdraw"),
    path("sessions/<int:session_id>/", views.session_edit, name="session_edit"),
    path("sessions/<int:session_id>/site/", views.session_site, name="session_site"),
    path("sessions/<int:session_id>/telehealth/", views.session_telehealth, name="session_telehealth"),
    path("patients/<int:patient_id>/away/", views.patient_away, name="patient_away"),
    path("away/", views.staff_away, name="staff_away"),
    path("away/<int:away_id>/delete/", views.away_delete, name="away_delete"),
    path("calendar/", views.calendar_settings, name="calendar"),
    path("calendar/mine.ics", views.my_calendar, name="my_calendar"),
    path("calendar/feed/<str:token>.ics", views.calendar_feed, name="feed"),
]
