"""Addresses reversed once a process for each view name and arguments, for the `{% url %}` tag of every template
(issue 19).

Django's reverse walks the URL patterns' possibilities, fills and checks the pattern and quotes the result on every
call: 80 µs each on the bench (a shared machine), and a patient's page writes some twenty links, the portal's home
eleven. The address is fixed by the URL configuration, the script prefix, the namespace the request was resolved
in, the view's name and its arguments, so it is kept under all of them. Not under the language: no route of
Kapstone's is translated nor language-prefixed (tests/foundation/test_reversing.py fails when one is, since its
address would then change with the language). Only whole numbers and text are kept by value; any other argument
(a model instance, a lazy string) is reversed as Django does, every time. A name that does not reverse is not
kept, and raises as before. Each key is read afresh on every call (the URL configuration and script prefix from
the thread, as reverse reads them), which with the look-up costs about a fifth of a reverse.

The `url` tag here is Django's own (its parsing, `as` variable, escaping and errors), reversing through
`reverse_once`. It is a built-in of the template engine (settings.TEMPLATES), listed after Django's, so it takes
the place of Django's tag in every template without a `{% load %}`.
"""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.template import Library
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url_tag
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = Library()

# Enough for the links of every page a worker serves to a practice's staff and patients for a while: past it the
# least recently used are reversed again.
ADDRESSES_KEPT = 4096


def _kept_by_value(value: object) -> bool:
    # Exact types: a str or int subclass (a bool, a SafeString) may write itself otherwise.
    return type(value) is int or type(value) is str


@functools.lru_cache(maxsize=ADDRESSES_KEPT)
def _reversed(
    urlconf: str,
    script_prefix: str,
    view_name: str,
    args: tuple[int | str, ...],
    kwargs: tuple[tuple[str, int | str], ...],
    current_app: str | None,
) -> str:
    # The script prefix in the key is the one reverse reads now, from this thread.
    return reverse(view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app)


def reverse_once(
    view_name: str, *, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None, current_app: str | None = None
) -> str:
    """django.urls.reverse(view_name, args=args, kwargs=kwargs, current_app=current_app), kept after the first
    call with the same name, plain arguments and URL configuration."""
    kwargs = kwargs or {}
    if not (
        type(view_name) is str
        and all(_kept_by_value(arg) for arg in args)
        and all(_kept_by_value(value) for value in kwargs.values())
        and (current_app is None or type(current_app) is str)
    ):
        return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
    return _reversed(
        # Outside a request no configuration is set on the thread and reverse uses the settings' (read now, so an
        # override_settings(ROOT_URLCONF=...) is a new key).
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
        view_name,
        tuple(args),
        tuple(sorted(kwargs.items())),
        current_app,
    )


class _URLNode(URLNode):
    """Django's URLNode.render, reversing through reverse_once."""

    def render(self, context):
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {name: value.resolve(context) for name, value in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        address = ""
        try:
            address = reverse_once(view_name, args=args, kwargs=kwargs, current_app=current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = address
            return ""
        return conditional_escape(address) if context.autoescape else address


@register.tag
def url(parser, token):
    """Django's `{% url %}`, parsed by Django, reversed once for each name and arguments."""
    node = django_url_tag(parser, token)
    return _URLNode(node.view_name, node.args, node.kwargs, node.asvar)
