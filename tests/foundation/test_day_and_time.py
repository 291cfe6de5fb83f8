"""The day_and_time filter writes exactly what Django's `date:"D j M, H:i"` writes, in the practice's time zone."""

import datetime

from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone


def _both(value: datetime.datetime | None) -> tuple[str, str]:
    template = Template('{% load kapstone_tags %}{{ value|date:"D j M, H:i" }}|{{ value|day_and_time }}')
    django_way, ours = template.render(Context({"value": value})).split("|")
    return django_way, ours


def test_every_hour_of_a_year_reads_as_django_writes_it_across_both_clock_changes():
    start = datetime.datetime(2026, 1, 1, 0, 7, tzinfo=datetime.UTC)
    for hours in range(0, 366 * 24, 5):
        value = start + datetime.timedelta(hours=hours, minutes=hours % 60)
        django_way, ours = _both(value)
        assert ours == django_way, value


@override_settings(TIME_ZONE="Pacific/Auckland")
def test_another_time_zone_moves_the_day_as_django_does():
    value = datetime.datetime(2026, 3, 3, 20, 30, tzinfo=datetime.UTC)  # already 4 March in Auckland
    django_way, ours = _both(value)
    assert ours == django_way == "Wed 4 Mar, 09:30"
    assert timezone.localtime(value).day == 4


def test_no_time_writes_nothing():
    assert _both(None) == ("", "")
