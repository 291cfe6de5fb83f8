"""Which stored result dates a page may draw (kapstone.measures.dates.is_plausible)."""

import datetime

from django.utils import timezone

from kapstone.measures.dates import EARLIEST_RESULT_DATE, is_plausible, latest_result_date


def test_a_date_is_plausible_from_the_earliest_result_date_through_tomorrow():
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert is_plausible(EARLIEST_RESULT_DATE) and is_plausible(tomorrow)
    assert not is_plausible(EARLIEST_RESULT_DATE - datetime.timedelta(days=1))
    assert not is_plausible(tomorrow + datetime.timedelta(days=1))
    assert not is_plausible(None)


def test_a_caller_checking_many_dates_gives_the_latest_once_and_gets_the_same_answers():
    latest = latest_result_date()
    for days in (-400, 0, 1, 2):
        day = timezone.localdate() + datetime.timedelta(days=days)
        moment = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        assert is_plausible(day, latest=latest) == is_plausible(day)
        assert is_plausible(moment, latest=latest) == is_plausible(moment)


def test_the_latest_given_is_the_bound():
    day = datetime.date(2020, 5, 1)
    assert is_plausible(day, latest=day)
    assert not is_plausible(day, latest=day - datetime.timedelta(days=1))
