from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "kapstone.patients"
    default_auto_field = "django.db.models.BigAutoField"
