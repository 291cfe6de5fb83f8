from django.apps import AppConfig


def _schedule(sender, *, actor, group, **kwargs) -> None:
    """Puts due the creativity tasks a course's dates call for, and re-dates the ones not yet started."""
    # deferred: apps.py is read before the models are ready, and the services module imports them.
    from kapstone.creativity.services import administrations_schedule_for_group

    administrations_schedule_for_group(actor=actor, group=group)


class CreativityConfig(AppConfig):
    name = "kapstone.creativity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.creativity.models import CreativityAdministration
        from kapstone.program import course_work
        from kapstone.program.signals import course_dates_changed

        course_dates_changed.connect(_schedule, dispatch_uid="creativity.schedule_course")
        course_work.register("tasks", CreativityAdministration)
