from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The top layer: the staff home, which gathers from the clinical apps, and the demo practice, which seeds
    them. Nothing below imports it."""

    name = "kapstone.home"
    default_auto_field = "django.db.models.BigAutoField"
