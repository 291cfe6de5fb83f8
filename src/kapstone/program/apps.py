from django.apps import AppConfig


class ProgramConfig(AppConfig):
    name = "kapstone.program"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.program import checks  # noqa: F401  (registers the course-template check)
