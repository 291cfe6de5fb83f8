import datetime
from functools import lru_cache

from django import template
from django.utils import dateformat
from django.utils.translation import get_language

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    """This list's address at another page, keeping its search and filters."""
    query = context["request"].GET.copy()
    query["page"] = number
    return "?" + query.urlencode()


@register.filter(expects_localtime=True)
def day_and_time(value: datetime.datetime | None) -> str:
    """What `date:"D j M, H:i"` writes ("Tue 3 Mar, 09:05"), for the long tables that show three such times a row:
    Django's date format took a fifth of the integration page's time (issue 19). The day is Django's own wording
    of the local date, read once per day and language; the time is the local hour and minute."""
    if not value:
        return ""
    return f"{_day_label(value.date(), get_language())}, {value.hour:02d}:{value.minute:02d}"


@lru_cache(maxsize=512)
def _day_label(day: datetime.date, language: str | None) -> str:
    # `language` is part of the key only: the day and month names are in the active language's words.
    return dateformat.format(day, "D j M")
