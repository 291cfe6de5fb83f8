from django.apps import AppConfig


def _schedule(sender, *, actor, group, **kwargs) -> None:
    """Puts due the questionnaires a course's dates call for, and re-dates the open ones."""
    # deferred: apps.py is read before the models are ready, and the services module imports them.
    from kapstone.measures.services import assessments_schedule_for_group

    assessments_schedule_for_group(actor=actor, group=group)


def _refuse_enrolment_on_open_suicide_risk(sender, *, patient, **kwargs) -> list[str]:
    """An enrolment waits while a suicide-risk answer is unacknowledged: an endorsed suicide item needs follow-up
    whatever the total ([kroenke-2001] item 9; [critical-item-practice]: the care team is told of any), so the care
    team assesses the patient and acknowledges the alert with a note before committing them to a course."""
    # deferred: apps.py is read before the models are ready, and the selectors module imports them.
    from kapstone.measures.selectors import open_suicide_risk_alerts
    from kapstone.practice.templatetags.kapstone_tags import day_in_words

    return [
        f"a suicide-risk alert raised {day_in_words(alert.raised_at)} ({alert.reason.rstrip('.')}) is not yet acknowledged; the care "
        "team assesses the patient and acknowledges it with a note before they join a course"
        for alert in open_suicide_risk_alerts(patient_id=patient.pk)
    ]


class MeasuresConfig(AppConfig):
    name = "kapstone.measures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapstone.measures import checks  # noqa: F401  (registers the instrument-wording check)
        from kapstone.measures.models import Assessment
        from kapstone.program import course_work
        from kapstone.program.signals import course_dates_changed
        from kapstone.screening.signals import enrolment_checks

        course_dates_changed.connect(_schedule, dispatch_uid="measures.schedule_course")
        enrolment_checks.connect(_refuse_enrolment_on_open_suicide_risk, dispatch_uid="measures.suicide_risk")
        course_work.register("questionnaires", Assessment)
