from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running a practice's installation: first run, database roles, backup and restore."""

    name = "kapstone.operations"
    default_auto_field = "django.db.models.BigAutoField"
