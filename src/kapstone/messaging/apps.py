from django.apps import AppConfig


def _withdraw_session_reminders(sender, *, enrolment, **kwargs) -> None:
    """A patient who left a group is sent no reminder of its sessions that was still waiting."""
    # deferred: apps.py is read before the models are ready, and the services module imports them.
    from kapstone.messaging.services import session_reminders_withdraw

    session_reminders_withdraw(enrolment=enrolment)


class MessagingConfig(AppConfig):
    name = "kapstone.messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.program.signals import enrolment_left

        enrolment_left.connect(_withdraw_session_reminders, dispatch_uid="messaging.withdraw_session_reminders")
