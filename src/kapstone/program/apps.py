from django.apps import AppConfig


class ProgramConfig(AppConfig):
    name = "kapstone.program"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.accounts.signals import credentials_ended
        from kapstone.program import checks  # noqa: F401  (registers the course-template check)

        credentials_ended.connect(_calendar_link_end, dispatch_uid="program.calendar_link_end")


def _calendar_link_end(sender, *, actor, user, **kwargs) -> None:
    # A calendar app fetches the link without signing in, so a leaked link outlived a password reset or a lost phone's
    # two-factor reset: it ends with the credentials, and the person makes a new one when they want it.
    # deferred: apps.py is read before the models are ready, and the services module imports them.
    from kapstone.program import services

    services.feed_token_revoke(user=user, actor=actor)
