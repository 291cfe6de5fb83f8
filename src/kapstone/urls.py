from django.urls import include, path

from kapstone.home import views as home_views

urlpatterns = [
    path("", home_views.root, name="root"),
    path("healthz", home_views.healthz, name="healthz"),
    path("accounts/", include("kapstone.accounts.urls")),
    path("home/", include("kapstone.home.urls")),
    path("home/", include("kapstone.practice.urls")),
    path("patients/", include("kapstone.patients.urls")),
    path("portal/", include("kapstone.portal.urls")),
    path("measures/", include("kapstone.measures.urls")),
    path("screening/", include("kapstone.screening.urls")),
    path("program/", include("kapstone.program.urls")),
    path("dosing/", include("kapstone.dosing.urls")),
    path("integration/", include("kapstone.integration.urls")),
    path("creativity/", include("kapstone.creativity.urls")),
    path("outcomes/", include("kapstone.outcomes.urls")),
    path("alerts/", include("kapstone.alerts.urls")),
    path("billing/", include("kapstone.billing.urls")),
    path("messages/", include("kapstone.messaging.urls")),
]
