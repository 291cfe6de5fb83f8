from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "kapstone.practice"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from kapstone.practice import checks  # noqa: F401  (registers the practice-settings check)
