from django.apps import AppConfig


def _schedule(sender, *, actor, group, **kwargs) -> None:
    """Puts due the questionnaires a course's dates call for, and re-dates the open ones."""
    # deferred: apps.py is read before the models are ready, and the services module imports them.
    from kapstone.measures.services import assessments_schedule_for_group

    assessments_schedule_for_group(actor=actor, group=group)


class MeasuresConfig(AppConfig):
    name = "kapstone.measures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.measures import checks  # noqa: F401  (registers the instrument-wording check)
        from kapstone.measures.models import Assessment
        from kapstone.program import course_work
        from kapstone.program.signals import course_dates_changed

        course_dates_changed.connect(_schedule, dispatch_uid="measures.schedule_course")
        course_work.register("questionnaires", Assessment)
