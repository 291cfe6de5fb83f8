from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "kapstone.outcomes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.outcomes import snapshots

        # Every committed change to a row the report reads marks its stored snapshots out of date.
        snapshots.connect_receivers()
