from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "kapstone.portal"
    default_auto_field = "django.db.models.BigAutoField"
