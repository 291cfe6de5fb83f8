import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def _dose_administered(sender, record, **kwargs):
    """Opens the integration window in the background. The dose is already committed: a failure here must not
    turn the dosing room's page into an error, so it is logged, and the beat sweep open_missing_integration_windows
    opens the window later (opening it twice is safe)."""
    # deferred: apps.py is read before the models are ready, and the tasks module imports them.
    from kapstone.integration.tasks import open_integration_window

    try:
        open_integration_window.delay(record.pk)
    except Exception:
        logger.exception("could not open the integration window for dose record %s", record.pk)


class IntegrationConfig(AppConfig):
    name = "kapstone.integration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from kapstone.dosing.signals import dose_administered
        from kapstone.integration import checks  # noqa: F401  (registers the notes-key check)
        from kapstone.integration.selectors import may_message_now
        from kapstone.patients import contact

        dose_administered.connect(_dose_administered, dispatch_uid="integration.open_window")
        contact.register(may_message_now)
