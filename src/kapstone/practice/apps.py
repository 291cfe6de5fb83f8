from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "kapstone.practice"
    default_auto_field = "django.db.models.BigAutoField"
