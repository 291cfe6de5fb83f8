from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "kapstone.screening"
    default_auto_field = "django.db.models.BigAutoField"
