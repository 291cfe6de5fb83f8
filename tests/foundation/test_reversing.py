"""Every template's {% url %} is Kapstone's (kapstone/reversing.py): it writes what Django's tag writes, keeps an
address for the same name, arguments, URL configuration and prefix, and reverses anything else as Django does."""

import pytest
from django.template import Context, Engine, RequestContext, engines
from django.test import RequestFactory
from django.urls import (
    LocalePrefixPattern,
    NoReverseMatch,
    URLResolver,
    get_resolver,
    get_script_prefix,
    reverse,
    set_script_prefix,
)
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from kapstone import reversing

TAGS = [
    "{% url 'patients:detail' patient_id %}",
    "{% url 'patients:detail' patient_id=patient_id %}",
    "{% url 'patients:part_remove' patient_id kind part_id %}",
    "{% url name patient_id %}",
    "{% url 'home:home' %}",
    "{% url 'patients:detail' patient_id as link %}[{{ link }}]",
    "{% url 'no:such' as link %}[{{ link }}]",
    "{% url 'patients:detail' lazy_id %}",
    "{% url 'patients:part_remove' 1 flag 2 %}",
]
VALUES = {
    "patient_id": 42,
    "kind": "medications",
    "part_id": 7,
    "name": "patients:edit",
    "lazy_id": gettext_lazy("9"),
    "flag": True,
}


def _djangos(source: str, context: dict) -> str:
    """The same tag drawn by Django's own {% url %} (an engine without Kapstone's built-in)."""
    return Engine(builtins=[]).from_string(source).render(Context(context))


def test_the_site_templates_draw_url_with_kapstones_tag():
    tags = engines["django"].engine.template_builtins
    assert tags[-1].tags["url"] is reversing.url


@pytest.mark.parametrize("source", TAGS)
def test_the_tag_writes_what_djangos_writes_the_first_time_and_again(source):
    template = engines["django"].from_string(source)
    for _ in range(2):
        assert template.render(VALUES) == _djangos(source, VALUES)


def test_an_address_is_escaped_as_djangos_is_and_left_as_it_is_without_autoescape():
    source = "{% url 'accounts:set_password' token %}"
    awkward = {"token": "a&b"}
    assert "&amp;" in engines["django"].from_string(source).render(awkward)
    assert engines["django"].from_string(source).render(awkward) == _djangos(source, awkward)
    assert "&amp;" not in reversing.reverse_once("accounts:set_password", args=["a&b"])
    unescaped = "{% autoescape off %}" + source + "{% endautoescape %}"
    assert engines["django"].from_string(unescaped).render(awkward) == _djangos(unescaped, awkward)


def test_a_name_that_does_not_reverse_raises_every_time():
    template = engines["django"].from_string("{% url 'no:such' 1 %}")
    for _ in range(2):
        with pytest.raises(NoReverseMatch):
            template.render({})


def test_an_argument_that_is_not_a_number_or_text_is_reversed_each_time(monkeypatch):
    calls = []
    monkeypatch.setattr(reversing, "reverse", lambda *args, **kwargs: calls.append(args) or "/x/")
    reversing.reverse_once("patients:detail", args=[gettext_lazy("3")])
    reversing.reverse_once("patients:detail", args=[gettext_lazy("3")])
    reversing.reverse_once("patients:detail", args=[True])
    assert len(calls) == 3


def test_a_kept_address_follows_the_script_prefix():
    unprefixed = reversing.reverse_once("patients:detail", args=[5])
    previous = get_script_prefix()
    set_script_prefix("/kap/")
    try:
        prefixed = reversing.reverse_once("patients:detail", args=[5])
    finally:
        set_script_prefix(previous)
    assert unprefixed == reverse("patients:detail", args=[5])
    assert prefixed == "/kap" + unprefixed
    assert reversing.reverse_once("patients:detail", args=[5]) == unprefixed


def test_the_request_namespace_is_part_of_what_is_kept():
    request = RequestFactory().get("/")
    request.current_app = "patients"
    template = engines["django"].engine.from_string("{% url 'patients:detail' 3 %}")
    assert template.render(RequestContext(request)) == reverse("patients:detail", args=[3], current_app="patients")


def _patterns(patterns):
    for pattern in patterns:
        yield pattern
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns)


def test_no_route_changes_with_the_language():
    """Addresses are kept whatever the language: a translated or language-prefixed route would need the language
    in reversing's key."""
    for pattern in _patterns(get_resolver().url_patterns):
        assert not isinstance(pattern.pattern, LocalePrefixPattern), pattern
        route = getattr(pattern.pattern, "_route", None) or getattr(pattern.pattern, "_regex", "")
        assert not isinstance(route, Promise), pattern
