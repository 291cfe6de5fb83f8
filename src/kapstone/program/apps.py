from django.apps import AppConfig


class ProgramConfig(AppConfig):
    name = "kapstone.program"
    default_auto_field = "django.db.models.BigAutoField"
