from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "kapstone.alerts"
    label = "alerts"
    verbose_name = "Alerts, on-call rota and safety plans"

    def ready(self):
        # The lower apps announce safety events and new alerts through signals; this app pages people for them.
        from kapstone.alerts import receivers

        receivers.connect()
