"""A person's age in whole years, the one reckoning every app uses (the enrolment gate, the screening engine, the
dosing room's starting-dose rule, the patient's page). Plain Python: the screening engine runs without Django."""

import datetime


def completed_years(born: datetime.date, on: datetime.date) -> int:
    """Whole years from `born` to `on`: a birthday counts on the day itself."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
