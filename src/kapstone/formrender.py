"""The form renderer: Django's own widget templates, with the common widgets written out in Python.

Pages that draw many forms (the dosing room draws ten for each patient in the session, the intake form a row of
fields for each medicine and treatment) spent most of their time rendering widget templates: an input is two
template renders (the input and its attributes), a select one more for every option, and a list of radio buttons or
checkboxes (the intake's nineteen yes/no questions) four more for every option. The widgets below are
rendered here to exactly the markup the templates give (tests/foundation/test_formrender.py compares them on
every widget Kapstone uses), and so is a field's label (a label_tag, one template and its attributes' include for
each field of a form laid out by a page's own loop, as the outcomes report's filters are); any other template goes
to Django's renderer unchanged.
"""

import html
import secrets
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.forms.widgets import ChoiceWidget
from django.template.loader import render_to_string
from django.utils.formats import get_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe

Widget = Mapping[str, Any]


def _formatted(value: object) -> str:
    """`{{ value|stringformat:'s' }}` under autoescaping: the value's str, escaped unless it was marked safe."""
    # Plain text first, escaped as conditional_escape ends: its lazy-argument check cost more than the escape, for
    # every name, id and value of every widget (a form's hidden counts alone were four calls each).
    if type(value) is str:
        return html.escape(value)
    return str(conditional_escape(value if isinstance(value, SafeString) else str(value)))


def shown(value: object, decimal_separator: str | None = None) -> str:
    """`{{ value }}` under autoescaping: localized (a number or date as the template shows it), then escaped. A caller
    showing many decimals may give the language's `decimal_separator` (get_format("DECIMAL_SEPARATOR")), looked up
    once for all of them."""
    # The common cases first, as localize and conditional_escape would end: text is escaped as it is, and a whole
    # number without thousands separators is its digits. Each step of the general path looks up the language.
    if type(value) is str:
        return html.escape(value)
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    # A decimal (an amount in mg) as number_format writes it without grouping: its fixed-point digits with the
    # language's decimal separator. Past 200 digits number_format switches to scientific notation; those, and the
    # infinities and NaNs, take the general path.
    if type(value) is Decimal and not settings.USE_THOUSAND_SEPARATOR and value.is_finite():
        _, digits, exponent = value.as_tuple()
        if abs(exponent) + len(digits) <= 200:  # type: ignore[arg-type]  # an int for a finite value
            separator = get_format("DECIMAL_SEPARATOR") if decimal_separator is None else decimal_separator
            return html.escape(f"{value:f}".replace(".", separator))
    localized = localize(value)
    return str(conditional_escape(localized if isinstance(localized, SafeData) else str(localized)))


def _attrs(attrs: Mapping[str, object]) -> str:
    """django/forms/widgets/attrs.html: False leaves the attribute out, True writes its name alone."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {shown(name)}" if value is True else f' {shown(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget: Widget) -> str:
    """django/forms/widgets/input.html, which the text, number, date, email, checkbox... templates include."""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_formatted(widget["type"])}" name="{_formatted(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _option(widget: Widget) -> str:
    """django/forms/widgets/select_option.html."""
    return f'<option value="{_formatted(widget["value"])}"{_attrs(widget["attrs"])}>{shown(widget["label"])}</option>'


def _select(widget: Widget) -> str:
    """django/forms/widgets/select.html with django/forms/widgets/select_option.html for each option."""
    parts = [f'<select name="{_formatted(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _ in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_formatted(group_name)}">')
        for option in group_choices:
            # An included template keeps the newline its file ends with; only the whole widget's is stripped.
            parts.append("\n  " + _option(option) + "\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _input_option(option: Widget) -> str:
    """radio_option.html or checkbox_option.html, which include django/forms/widgets/input_option.html: the input
    with its template's newline, in its label when the option wraps it, then the newlines that end each file."""
    if not option["wrap_label"]:
        return _input(option) + "\n\n\n"
    label_for = f' for="{shown(option["attrs"]["id"])}"' if option["attrs"].get("id") else ""
    return f"<label{label_for}>{_input(option)}\n {shown(option['label'])}</label>\n\n"


def _option_alone(option: Widget) -> str:
    """radio_option.html or checkbox_option.html drawn on its own: `{{ radio.tag }}` in a template that lays out the
    choices itself (the portal's questionnaires, a radio group for each question; issue 19), stripped as Django's
    renderer strips every drawing it returns."""
    return _input_option(option).strip()


def _multiple_input(widget: Widget) -> str:
    """django/forms/widgets/multiple_input.html, which radio.html and checkbox_select.html include: a div of
    options, each in its own div, grouped as the choices are."""
    attrs = widget["attrs"]
    parts = ["<div"]
    if attrs.get("id"):
        parts.append(f' id="{shown(attrs["id"])}"')
    if attrs.get("class"):
        parts.append(f' class="{shown(attrs["class"])}"')
    parts.append(">")
    for group_name, group_choices, _ in widget["optgroups"]:
        if group_name:
            parts.append(f"\n  <div><label>{shown(group_name)}</label>")
        for option in group_choices:
            parts.append(f"<div>\n    {_input_option(option)}</div>")
        if group_name:
            parts.append("\n  </div>")
    parts.append("\n</div>")
    return "".join(parts)


def _textarea(widget: Widget) -> str:
    """django/forms/widgets/textarea.html."""
    value = shown(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_formatted(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'


def _label(context: Mapping[str, Any]) -> str:
    """django/forms/label.html, which a field's label_tag and legend_tag draw: the label in its tag when the field has
    an id, else the label alone (stripped, as the renderer strips every drawing)."""
    label = shown(context["label"])
    if not context["use_tag"]:
        return label.strip()
    tag = shown(context["tag"])
    return f"<{tag}{_attrs(context['attrs'] or {})}>{label}</{tag}>"


LABEL_TEMPLATE = "django/forms/label.html"
INPUT_TEMPLATES = {
    f"django/forms/widgets/{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "date",
        "datetime",
        "time",
        "checkbox",
    )
}
RENDERED_HERE: dict[str, Callable[[Widget], str]] = {
    **dict.fromkeys(INPUT_TEMPLATES, _input),
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/textarea.html": _textarea,
    "django/forms/widgets/radio.html": _multiple_input,
    "django/forms/widgets/checkbox_select.html": _multiple_input,
    "django/forms/widgets/radio_option.html": _option_alone,
    "django/forms/widgets/checkbox_option.html": _option_alone,
}
# The template each widget's options must use to be drawn here: another is left to the templates whole.
OPTION_TEMPLATES = {
    "django/forms/widgets/select.html": "django/forms/widgets/select_option.html",
    "django/forms/widgets/radio.html": "django/forms/widgets/radio_option.html",
    "django/forms/widgets/checkbox_select.html": "django/forms/widgets/checkbox_option.html",
}


class FormRenderer(DjangoTemplates):
    """settings.FORM_RENDERER: the widgets and labels above in Python, everything else (form and formset layouts, a
    project's own widget templates) through Django's templates."""

    def render(self, template_name, context, request=None):
        if template_name == LABEL_TEMPLATE:
            return mark_safe(_label(context))  # noqa: S308 - every value above is escaped as the template would
        render_here = RENDERED_HERE.get(template_name)
        widget = context.get("widget")
        if render_here is None or widget is None or not self._standard(template_name, widget):
            return super().render(template_name, context, request=request)
        return mark_safe(render_here(widget))  # noqa: S308 - every value above is escaped as the template would

    @staticmethod
    def _standard(template_name: str, widget: Widget) -> bool:
        """A widget of options (a select, radio buttons, checkboxes) whose options use another template is left to
        the templates whole."""
        option_template = OPTION_TEMPLATES.get(template_name)
        if option_template is None:
            return True
        return all(
            option["template_name"] == option_template for _, options, _ in widget["optgroups"] for option in options
        )


# The prefix of a form drawn once to stand for many (stamped): random, so no label, help text or choice on the page
# can hold it by chance, and hexadecimal, so escaping leaves it as it is wherever the prefix is written.
STAMP_PREFIX = f"stamp{secrets.token_hex(16)}"


def form_fields(form: forms.BaseForm) -> SafeString:
    """The form's fields as includes/form_fields.html draws them: what `{% include "includes/form_fields.html" %}`
    gives on a page, which reads nothing from the page but the form."""
    return mark_safe(render_to_string("includes/form_fields.html", {"form": form}))  # noqa: S308 - a template's output


def stamped(fields: str, prefix: str) -> SafeString:
    """Fields drawn (form_fields) for a form made with prefix=STAMP_PREFIX, as the same form made with `prefix`
    draws them. An empty form's fields differ from another's of the same class only by the prefix in their names,
    ids and the labels' and descriptions' references to them, each written escaped: a page showing the same form on
    many cards (the dosing room) draws it once."""
    return mark_safe(fields.replace(STAMP_PREFIX, str(conditional_escape(prefix))))  # noqa: S308 - escaped above


def shown_choices(choices: object) -> tuple:
    """A widget's choices as text, groups kept: what a select draws of them (a drawing's key, with kept_drawing)."""
    return tuple(
        (str(value), shown_choices(label) if isinstance(label, (list, tuple)) else str(label))
        for value, label in choices  # type: ignore[attr-defined]  # a widget's choices are (value, label) pairs
    )


def shown_offers(offered: Mapping[str, object]) -> tuple:
    """What a form offers, by field (name to choices), as its drawing shows it: a kept drawing's key (kept_drawing)."""
    return tuple((name, shown_choices(choices)) for name, choices in offered.items())


def _drawing_key(form: forms.BaseForm) -> tuple:
    """Everything of an unbound form that its drawing reads and that a form's __init__ may set for one request
    (labels, help texts, choices read from the database, initial values, attributes), with the classes that
    draw the rest."""
    fields = []
    for name, field in form.fields.items():
        widget = field.widget
        # Only a choice widget draws its choices: a model choice typed in as a number (a ledger entry) keeps the
        # queryset of every row as choices it never reads.
        choices = widget.choices if isinstance(widget, ChoiceWidget) else ()
        fields.append(
            (
                name,
                type(field),
                type(widget),
                str(field.label),
                str(field.help_text),
                field.required,
                field.disabled,
                field.localize,
                field.show_hidden_initial,
                tuple((key, str(value)) for key, value in widget.attrs.items()),
                repr(form.get_initial_for_field(field, name)),
                shown_choices(choices),
            )
        )
    return (type(form), form.prefix, form.auto_id, form.label_suffix, form.use_required_attribute, tuple(fields))


# Drawings of unbound forms by what they draw and the form's _drawing_key, shared by the requests one process
# serves; cleared when full, so a practice whose choices keep changing holds no more than this many drawings.
_DRAWN_EMPTY: dict[Hashable, Any] = {}
DRAWN_EMPTY_LIMIT = 256

Drawing = TypeVar("Drawing")


def drawn_once(form: forms.BaseForm, what: Hashable, draw: Callable[[], Drawing]) -> Drawing:
    """`draw()`, a drawing of the unbound `form` that reads nothing else but what `what` names (its fields, or a
    page's own layout of them with the counts it writes), kept for every request that draws the same form the same
    way. A form whose labels, choices or initial values differ (a lot received, a changed wording) is drawn anew."""
    if form.is_bound:
        raise ValueError("Only an unbound form draws the same for every request.")
    return kept_drawing((what, _drawing_key(form)), draw)


def kept_drawing(key: Hashable, draw: Callable[[], Drawing]) -> Drawing:
    """`draw()`, kept for every request that gives the same `key`: all that the drawing reads (what a page's unbound
    form offers, worked out without making the form, with the form's class and prefix). drawn_once keys a form's
    drawing by the form itself; a page whose forms cost more to make than to tell apart keys them itself."""
    drawn = _DRAWN_EMPTY.get(key)
    if drawn is None:
        if len(_DRAWN_EMPTY) >= DRAWN_EMPTY_LIMIT:
            _DRAWN_EMPTY.clear()
        drawn = _DRAWN_EMPTY[key] = draw()
    return drawn


def empty_form_fields(form: forms.BaseForm) -> SafeString:
    """form_fields(form) for an unbound form, drawn once for every request that shows the same form (drawn_once): a
    page that shows a form of fixed fields (the dosing room's cards, each load) drew the same markup on every
    request."""
    return mark_safe(drawn_once(form, "form_fields", lambda: form_fields(form)))  # noqa: S308 - form_fields' output


def drawn_fields(form: forms.BaseForm) -> SafeString:
    """form_fields(form), an unbound form drawn once for every request that shows the same form (empty_form_fields)."""
    return form_fields(form) if form.is_bound else empty_form_fields(form)


def read_choices_once(page_forms: Iterable[forms.Form]) -> None:
    """Gives every choice of a model (a lot, a witness, a care team and its lead) on a page its rows from one read,
    and reads each as a list. Left to itself, each field would count its rows and then read them through a
    server-side cursor (four round trips to the database for each field). Fields of the same model are told apart
    by their SQL, which takes as long to work out as a small read: only worked out where a model has more than one
    field on the page."""
    fields: list[forms.ModelChoiceField] = []
    for form in page_forms:
        for field in form.fields.values():
            # A number input (the entry a correction names) offers no choices to read; a list is read already.
            if (
                isinstance(field, forms.ModelChoiceField)
                and isinstance(field.widget, ChoiceWidget)
                and not isinstance(field.widget.choices, list)
            ):
                fields.append(field)
    models = Counter(field.queryset.model for field in fields if field.queryset is not None)
    rows: dict[tuple[type, str], list] = {}
    for field in fields:
        queryset = field.queryset
        assert queryset is not None  # every model choice on these pages is declared with its queryset
        key = (queryset.model, str(queryset.query) if models[queryset.model] > 1 else "")
        if key not in rows:
            rows[key] = list(queryset)
        field.widget.choices = choices_of(field, rows[key])


def choices_of(field: forms.ModelChoiceField, rows: Iterable[Any]) -> list[tuple[Any, Any]]:
    """The choices `field` itself would offer (its empty label, then each row worded by the field's iterator) of
    `rows` the page has read already."""
    iterator = field.iterator(field)
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    return [*empty, *(iterator.choice(row) for row in rows)]
