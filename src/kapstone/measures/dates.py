"""The dates a questionnaire result may carry, for what people enter and for what pages draw.

A person enters a date (a staff-entered total's "date given", a CLI flag, an imported file): it must fall between
EARLIEST_RESULT_DATE and the end of tomorrow (a day of slack for a practice a time zone ahead of the server).
Pages, charts and exports draw whatever the database holds: a stored date outside those bounds (a row from before
these checks, a raw import) is left off a chart and counted, never allowed to break the page.
"""

import datetime

from django.utils import timezone

# Not clinical: no questionnaire in Kapstone's catalogue predates 1900 (the oldest, the Hamilton scales, are from
# 1959-1960), and 1900 is far inside what every library the pages use (pandas, SciPy) can hold.
EARLIEST_RESULT_DATE = datetime.date(1900, 1, 1)
FUTURE_SLACK = datetime.timedelta(days=1)


def latest_result_date(today: datetime.date | None = None) -> datetime.date:
    return (today or timezone.localdate()) + FUTURE_SLACK


def entered_date_problem(day: datetime.date, *, today: datetime.date | None = None) -> str | None:
    """What is wrong with a date a person entered for a questionnaire result, or None."""
    if day < EARLIEST_RESULT_DATE:
        return f"The date cannot be before {EARLIEST_RESULT_DATE:%d %B %Y}."
    if day > latest_result_date(today):
        return "The date cannot be in the future."
    return None


def is_plausible(at: datetime.datetime | datetime.date | None, *, latest: datetime.date | None = None) -> bool:
    """Whether a stored date is one a page may draw (see the module docstring). A caller checking many dates gives
    `latest` (latest_result_date()), worked out once for all of them."""
    if at is None:
        return False
    day = at.date() if isinstance(at, datetime.datetime) else at
    return EARLIEST_RESULT_DATE <= day <= (latest or latest_result_date())
