from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "kapstone.measures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.measures import checks  # noqa: F401  (registers the instrument-wording check)
