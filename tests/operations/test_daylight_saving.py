"""The practice's clock across a daylight-saving change, in both directions: a questionnaire or creativity task due
N days after a session is due at the session's time of day, as the practice reads its clock; the database holds
every moment in UTC, where counting days would move it an hour."""

import datetime
import zoneinfo

import pytest
from django.conf import settings

from kapstone.creativity import services as creativity_services
from kapstone.creativity.models import CreativityAdministration
from kapstone.measures import services as measures_services
from kapstone.measures.assessment_plans import due_items, load_plan
from kapstone.measures.models import Assessment
from kapstone.program.models import Enrolment, Group, GroupSession

PRACTICE = zoneinfo.ZoneInfo("America/New_York")
# 2026 in New York: clocks go forward in the night to 8 March and back in the night to 1 November, so the day after
# each of these doses is on the other side of the change.
BEFORE_SPRING_FORWARD = datetime.datetime(2026, 3, 7, 10, 0, tzinfo=PRACTICE)
BEFORE_FALL_BACK = datetime.datetime(2026, 10, 31, 10, 0, tzinfo=PRACTICE)


def as_the_database_returns(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


@pytest.mark.parametrize("first_dose", [BEFORE_SPRING_FORWARD, BEFORE_FALL_BACK], ids=["spring", "autumn"])
def test_a_questionnaire_due_days_after_a_session_keeps_its_time_of_day_on_the_practice_clock(first_dose):
    dosing = [as_the_database_returns(first_dose + datetime.timedelta(days=7 * n)) for n in (0, 1)]
    items = due_items(
        load_plan(),
        session_starts=dosing,
        dosing_starts=dosing,
        course_end=dosing[-1] + datetime.timedelta(hours=3),
        time_zone=PRACTICE,
    )
    by_key = {(i.occasion, i.instrument_id): i for i in items}
    after_the_change = by_key[("day_after_dosing_1", "ebi")].due_at
    assert after_the_change.astimezone(PRACTICE).time() == datetime.time(10, 0)
    assert after_the_change.astimezone(PRACTICE).date() == (first_dose + datetime.timedelta(days=1)).date()
    assert by_key[("follow_up_3m", "phq9")].due_at.astimezone(PRACTICE).time() == datetime.time(13, 0)


def course_across(first_dose: datetime.datetime, patient) -> Group:
    group = Group.objects.create(
        name="Across the change",
        template_id="t",
        template_version=1,
        min_size=1,
        max_size=4,
        start_date=first_dose.date(),
    )
    Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.ENROLLED)
    for number, days in ((1, 0), (2, 7)):
        starts = first_dose + datetime.timedelta(days=days)
        GroupSession.objects.create(
            group=group, kind="dosing", number=number, starts_at=starts, ends_at=starts + datetime.timedelta(hours=3)
        )
    return group


@pytest.mark.parametrize("first_dose", [BEFORE_SPRING_FORWARD, BEFORE_FALL_BACK], ids=["spring", "autumn"])
def test_a_courses_questionnaires_and_creativity_tasks_fall_due_at_session_times_across_the_change(cast, first_dose):
    assert str(PRACTICE) == settings.TIME_ZONE  # the practice zone the suite runs in
    group = course_across(first_dose, cast.alice)
    measures_services.assessments_schedule_for_group(actor=cast.bob, group=group)
    creativity_services.administrations_schedule_for_group(actor=cast.bob, group=group)
    # Sessions start at 10:00 and the course ends at 13:00; every offset in the plans is whole days.
    session_times = {datetime.time(10, 0), datetime.time(13, 0)}
    questionnaires = Assessment.objects.filter(group=group)
    tasks = CreativityAdministration.objects.filter(group=group)
    assert questionnaires.exists() and tasks.exists()
    for due in [*questionnaires, *tasks]:
        assert due.due_at.astimezone(PRACTICE).time() in session_times, (due, due.due_at.astimezone(PRACTICE))
