"""The day_and_time filter writes exactly what Django's `date:"D j M Y, H:i"` writes, in the practice's time zone."""

import datetime

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from kapstone.practice.templatetags import kapstone_tags


def _both(value: datetime.datetime | None) -> tuple[str, str]:
    template = Template('{% load kapstone_tags %}{{ value|date:"D j M Y, H:i" }}|{{ value|day_and_time }}')
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
    assert ours == django_way == "Wed 4 Mar 2026, 09:30"
    assert timezone.localtime(value).day == 4


def test_no_time_writes_nothing():
    assert _both(None) == ("", "")


def test_calendar_date_writes_what_date_writes_for_every_day_of_a_year_and_a_named_format():
    template = Template(
        '{% load kapstone_tags %}{{ day|date:"j M Y" }}|{{ day|calendar_date:"j M Y" }}|'
        '{{ day|date:"SHORT_DATE_FORMAT" }}|{{ day|calendar_date:"SHORT_DATE_FORMAT" }}'
    )
    for offset in range(366):
        day = datetime.date(2028, 1, 1) + datetime.timedelta(days=offset)
        django_way, ours, django_short, ours_short = template.render(Context({"day": day})).split("|")
        assert (ours, ours_short) == (django_way, django_short), day


def test_calendar_date_refuses_a_datetime_whose_day_depends_on_the_time_zone():
    template = Template('{% load kapstone_tags %}{{ value|calendar_date:"j M Y" }}')
    with pytest.raises(TypeError):
        template.render(Context({"value": datetime.datetime(2026, 3, 3, 23, 30, tzinfo=datetime.UTC)}))


def test_another_language_words_the_day_in_its_own_words_and_a_changed_setting_forgets_the_worded_days():
    template = Template('{% load kapstone_tags %}{{ day|date:"D j M Y" }}|{{ day|calendar_date:"D j M Y" }}')
    day = datetime.date(2028, 2, 29)
    english = template.render(Context({"day": day}))
    with translation.override("de"):
        german = template.render(Context({"day": day}))
    assert german.split("|")[0] == german.split("|")[1] != english.split("|")[1]
    with override_settings(SHORT_DATE_FORMAT="Y/m/d"):
        assert kapstone_tags.day_label.cache_info().currsize == 0


def test_a_link_around_a_rows_key_is_the_reversed_address():
    before, after = kapstone_tags.link_around_id("patients:detail")
    assert f"{before}42{after}" == reverse("patients:detail", args=[42])
    with pytest.raises(ValueError, match="exactly one number"):
        kapstone_tags.link_around_id("patients:list")
    # With the arguments every row shares: a patient's visits.
    before, after = kapstone_tags.link_around_id("billing:visit_superbill", 7)
    assert f"{before}42{after}" == reverse("billing:visit_superbill", args=[7, 42])
    with pytest.raises(ValueError, match="exactly one number"):
        kapstone_tags.link_around_id("billing:visit_superbill")


def test_a_link_around_a_rows_two_keys_is_the_reversed_address():
    before, between, after = kapstone_tags.link_around_two_ids("measures:record")
    assert f"{before}42{between}7{after}" == reverse("measures:record", args=[42, 7])
    with pytest.raises(ValueError, match="exactly two numbers"):
        kapstone_tags.link_around_two_ids("patients:detail")


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_a_tables_dates_word_each_moment_as_the_date_filter_does_in_the_current_time_zone(zone):
    start = datetime.datetime(2026, 3, 1, 0, 30, tzinfo=datetime.UTC)
    moments = [start + datetime.timedelta(hours=hours) for hours in range(0, 24 * 40, 7)]
    with timezone.override(zone):
        worded = kapstone_tags.local_calendar_dates("j M Y")
        template = Template('{{ value|date:"j M Y" }}')
        for value in [*moments, None, datetime.datetime(2026, 3, 8, 23, 30)]:  # the last has no time zone
            assert worded(value) == template.render(Context({"value": value})), value


@override_settings(TIME_ZONE="America/Los_Angeles")
def test_a_message_names_the_day_a_moment_falls_on_in_the_practice_not_in_utc():
    evening = datetime.datetime(2026, 12, 5, 4, 30, tzinfo=datetime.UTC)  # still 4 December in Los Angeles
    assert kapstone_tags.day_in_words(evening) == "4 Dec 2026"
    assert kapstone_tags.day_in_words(datetime.date(2026, 12, 5)) == "5 Dec 2026"
