import datetime
import html
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch
from django.utils import formats, timezone
from django.utils.formats import get_format
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # the date filter's, undeclared in django-stubs
from django.utils.translation import get_language

from kapstone.reversing import reverse_once

register = template.Library()

# A key no practice reaches: reversed once for a table, then replaced by each row's.
_SENTINEL_ID = 987654321


def _link_pieces(url_name: str, leading: tuple[object, ...], keys: int) -> tuple[str, ...]:
    """The escaped text around the last `keys` numbers of `url_name`'s address, after the `leading` arguments every
    row shares: keys + 1 pieces, between which a row writes its own keys."""
    sentinels = [str(_SENTINEL_ID + n) for n in range(keys)]
    count = {1: "one number", 2: "two numbers"}[keys]
    try:
        # Reversed once a process: once a request for each table cost 80 µs a table on the bench (the home draws four).
        address = reverse_once(url_name, args=[*leading, *(int(sentinel) for sentinel in sentinels)])
    except NoReverseMatch:
        raise ValueError(f"{url_name} does not take exactly {count} after {list(leading)}.") from None
    pieces, rest = [], address
    for sentinel in sentinels:
        piece, found, rest = rest.partition(sentinel)
        if not found or any(other in piece for other in sentinels):
            raise ValueError(f"{url_name} does not take exactly {count} for the row: {address}")
        pieces.append(piece)
    if any(sentinel in rest for sentinel in sentinels):
        raise ValueError(f"{url_name} does not take exactly {count} for the row: {address}")
    return tuple(html.escape(piece) for piece in [*pieces, rest])


def link_around_id(url_name: str, *leading: object) -> tuple[str, str]:
    """The escaped text before and after the last number in `url_name`'s address (a route whose last argument is an
    int, a row's key, after the `leading` arguments every row shares, such as the patient of a list of their visits):
    a long table writes each row's link as before + key + after instead of reversing the route for each row, which
    took as long as the rest of the row."""
    before, after = _link_pieces(url_name, leading, 1)
    return before, after


def link_around_two_ids(url_name: str) -> tuple[str, str, str]:
    """link_around_id for a route whose last two arguments are a row's own two keys (an assessment of its patient):
    the escaped text before, between and after them, so a row's link is before + first + between + second + after."""
    before, between, after = _link_pieces(url_name, (), 2)
    return before, between, after


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    """This list's address at another page, keeping its search and filters."""
    query = context["request"].GET.copy()
    query["page"] = number
    return "?" + query.urlencode()


@register.filter(expects_localtime=True)
def day_and_time(value: datetime.datetime | None) -> str:
    """What `date:"D j M Y, H:i"` writes ("Tue 3 Mar 2026, 09:05"), for the long tables that show three such times a
    row (with the year: such a table may span more than one, and "Wed 25 Feb" alone does not say which):
    Django's date format took a fifth of the integration page's time (issue 19). The day is Django's own wording
    of the local date, read once per day and language; the time is the local hour and minute."""
    if not value:
        return ""
    return worded_day_and_time(value, "D j M Y", get_language())


def worded_day_and_time(local: datetime.datetime, day_format: str, language: str | None, *, between: str = ", ") -> str:
    """What `date:"<day_format><between>H:i"` writes of a time already in the time zone the page shows (as `date`
    has it, expects_localtime): the day worded once per day, format and language (day_label), then the hour and
    minute."""
    return f"{day_label(local.date(), day_format, language)}{between}{local.hour:02d}:{local.minute:02d}"


@register.filter
def calendar_date(value: datetime.date | None, format_string: str) -> str:
    """What `date:format_string` writes for a calendar date, worded once per day, format and language, for long
    lists (issue 19). A datetime is refused: its day depends on the time zone, which `date` applies first."""
    if isinstance(value, datetime.datetime):
        raise TypeError("calendar_date takes a date; a datetime needs the time zone (use date).")
    if not value:
        return ""
    return day_label(value, format_string, get_language())


def _local_calendar_date(at: datetime.datetime | None, format_string: str) -> str:
    """What `{{ at|date:format_string }}` writes of a moment for a format of its day alone ("j M Y"): the day it is
    in the current time zone, as the filter takes it, worded once per day (calendar_date): Django's date format was a
    third of a long table's time when worded for each row."""
    return "" if at is None else calendar_date(template_localtime(at).date(), format_string)


def local_calendar_dates(format_string: str) -> Callable[[datetime.datetime | None], str]:
    """_local_calendar_date for the rows of one table: the time zone and the language looked up once for all of them
    rather than for each row (a table of dates, the creativity page's two; issue 19)."""
    if not settings.USE_TZ:
        return lambda at: _local_calendar_date(at, format_string)
    zone, language = timezone.get_current_timezone(), get_language()

    def worded(at: datetime.datetime | None) -> str:
        if at is None or timezone.is_naive(at):
            return _local_calendar_date(at, format_string)  # as the date filter takes a moment with no time zone
        return day_label(at.astimezone(zone).date(), format_string, language)

    return worded


def day_in_words(value: datetime.date | datetime.datetime) -> str:
    """ "4 Dec 2026": a day as a message to staff names it. A moment is worded as the day it falls on in the practice's
    time zone: its own date is its day in UTC, which on an American evening is already tomorrow."""
    if isinstance(value, datetime.datetime):
        return _local_calendar_date(value, "j M Y")
    return calendar_date(value, "j M Y")


@lru_cache(maxsize=1024)
def day_label(day: datetime.date, format_string: str, language: str | None) -> str:
    """`date:format_string` of a calendar date in `language`, the active language (get_language()).

    `language` is part of the key only: the day and month names are in the active language's words. This is
    Django's date filter, as `date` calls it (a named format such as SHORT_DATE_FORMAT is looked up too)."""
    return formats.date_format(day, format_string)


@receiver(setting_changed)
def _forget_day_labels(**kwargs: object) -> None:
    """A changed format setting (a test's override) words days anew, as Django's own format cache does."""
    day_label.cache_clear()


def written_quantity(value: Decimal | int | None, decimal_separator: str = ".", thousand_separator: str = ",") -> str:
    """An amount as a clinician writes it: no trailing zeros, thousands grouped as the practice's counts are
    ("12,000" for 12000.00, "100" for 100.00, "2.5" for 2.50, "0" for 0.00). Exact: nothing is rounded away, only
    zeros after the last digit. A caller writing many amounts gives the language's separators, looked up once."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(value)
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"  # "0.00" and "-0" alike
    # Python's grouping and decimal point, then the language's, swapped in one pass (either may be the other's).
    return f"{value.normalize():,f}".translate({ord(","): thousand_separator, ord("."): decimal_separator})


@register.filter
def quantity(value: Decimal | int | None) -> str:
    """`{{ lot.unit_mg|quantity }}`: written_quantity in the language's separators, for what a page shows; an export
    keeps the stored value."""
    return written_quantity(value, get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR"))
