from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AuditConfig(AppConfig):
    name = "kapstone.audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from kapstone.audit.db import register_emptying_function

        connection_created.connect(register_emptying_function, dispatch_uid="audit.emptying_function")
