from django.apps import AppConfig


class CreativityConfig(AppConfig):
    name = "kapstone.creativity"
    default_auto_field = "django.db.models.BigAutoField"
