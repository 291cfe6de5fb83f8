"""The intake forms' fields and row tables, written out in Python.

The staff intake page drew each of its thirty main fields through a template include (screening/_field.html) and
each of its six lists through another (screening/_rows.html) whose table drew every field of every row: their
lookups, conditions and escapes were most of the page's CPU time (issue 19). The markup is exactly what those
templates drew, line breaks and indentation included: tests/screening/test_intake_fields.py draws every state of
the staff and portal forms both ways. The widgets themselves are drawn by the form renderer (kapstone/formrender.py);
a list's blank rows are drawn once, from its empty form.
"""

from django import forms
from django.forms.formsets import BaseFormSet
from django.utils.safestring import SafeString, mark_safe

from kapstone.formrender import STAMP_PREFIX, drawn_once, shown

_REQUIRED = ' <span class="req" aria-hidden="true">*</span>'


def _errors(errors) -> str:
    """`{% for error in errors %}<p class="error" role="alert">{{ error }}</p>{% endfor %}`."""
    return "".join(f'<p class="error" role="alert">{shown(error)}</p>' for error in errors)


def field(bound: forms.BoundField) -> SafeString:
    """One field as the template it replaces (tests/screening/intake_field_template.html) drew it: its label (a legend for a group of choices), widget, help text
    and errors, the help and errors named by the widget or, for a group, by its fieldset."""
    widget = bound.field.widget
    errors = bound.errors
    help_text = bound.help_text
    auto_id = shown(bound.auto_id)
    label = shown(bound.label) + (_REQUIRED if bound.field.required else "")
    checkbox = " checkbox" if getattr(widget, "input_type", None) == "checkbox" else ""
    if getattr(widget, "input_type", None) == "radio" or getattr(widget, "allow_multiple_selected", False):
        # Django gives a fieldset's inputs no aria-describedby, so the fieldset names its help and errors.
        described = ""
        if help_text or errors:
            names = [f"{auto_id}_helptext"] if help_text else []
            names += [f"{auto_id}_error"] if errors else []
            described = f' aria-describedby="{" ".join(names)}"'
        drawn = f'\n  \n  <fieldset class="choice-group"{described}><legend>{label}</legend>{bound}</fieldset>\n  '
    else:
        drawn = f'\n  <label for="{shown(bound.id_for_label)}">{label}</label>\n  {bound}\n  '
    help_part = f'<p class="help" id="{auto_id}_helptext">{shown(help_text)}</p>' if help_text else ""
    error_part = f'<div id="{auto_id}_error">{_errors(errors)}</div>' if errors else ""
    html = (
        f'<div class="field{" has-error" if errors else ""}{checkbox}">\n'
        f"  {drawn}\n"
        f"  {help_part}\n"
        f"  {error_part}\n"
        "</div>\n"
    )
    return mark_safe(html)  # noqa: S308 - every value is escaped by shown() or drawn by the form renderer


def _cell(bound: forms.BoundField, row_number: int | str) -> str:
    """A row field's cell: a header neither labels nor describes an input for assistive technology, so each cell
    names its own."""
    auto_id = shown(bound.auto_id)
    help_text = bound.help_text
    errors = bound.errors
    help_part = f'<span class="visually-hidden" id="{auto_id}_helptext">{shown(help_text)}</span>' if help_text else ""
    error_part = f'<div id="{auto_id}_error">{_errors(errors)}</div>' if errors else ""
    return (
        f'<td><label class="visually-hidden" for="{shown(bound.id_for_label)}">{shown(bound.label)}, '
        f"row {row_number}</label>{bound}{help_part}{error_part}</td>"
    )


def _management(formset: BaseFormSet) -> str:
    """`{{ formset.management_form }}`: its hidden inputs, as django/forms/div.html draws a form of hidden fields
    alone. A management form with errors (a post that lost its counts) is drawn by that template, errors and all."""
    management = formset.management_form
    if management.errors:
        return str(management)
    return "".join(str(hidden) for hidden in management.hidden_fields())


def _row(form: forms.BaseForm, number: int | str, width: int) -> str:
    """A form's row of the table, with its own errors in a row above it."""
    non_field_errors = form.non_field_errors()
    row_errors = (
        f'<tr class="row-errors"><td colspan="{width}">{_errors(non_field_errors)}</td></tr>'
        if non_field_errors
        else ""
    )
    cells = "".join(_cell(bound, number) for bound in form.visible_fields())
    has_error = ' class="has-error"' if form.errors else ""
    return f"\n      {row_errors}\n      <tr{has_error}>\n        \n        {cells}\n      </tr>\n    "


def _head(columns: list[forms.BoundField]) -> str:
    """The table's header: a column for each field, with its help text."""
    return "".join(
        f'<th scope="col">{shown(column.label)}'
        + (f' <span class="help">({shown(column.help_text)})</span>' if column.help_text else "")
        + "</th>"
        for column in columns
    )


def rows(formset: BaseFormSet, heading: str) -> SafeString:
    """A list's formset as the template it replaces (tests/screening/intake_rows_template.html) drew it: a table
    with a column for each field and a row for each form, the row's own errors above it."""
    # The empty form, made once, gives the columns (the template made it again for each row with errors) and
    # every blank row.
    empty = formset.empty_form
    columns = empty.visible_fields()
    if formset.is_bound:
        management, head = _management(formset), _head(columns)
        body = [_row(form, number, len(columns)) for number, form in enumerate(formset, start=1)]
    else:
        # An unbound formset's rows after those it starts with are blank: each is the empty form under its own
        # prefix, which is what the empty form's "__prefix__" is for (no label, help text or choice of a row holds
        # it). They are stamped from the empty form's drawing rather than made and drawn one by one: making a form
        # deep-copies its fields, and the blank rows were most of the page's forms (issue 19). The rows it starts
        # with are made as its `forms` makes each, without making the blank ones.
        started = formset.initial_form_count()
        total = formset.total_form_count()
        # Its management form (the prefix and the counts), header and blank row hold none of its rows: drawn once
        # for every request that draws the same list with as many rows. The blank row's number is drawn as
        # formrender's STAMP_PREFIX, which nothing else on the page holds.
        management, head, blank = drawn_once(
            empty,
            ("intake list", started, total, formset.min_num, formset.max_num),
            lambda: (_management(formset), _head(columns), _row(empty, STAMP_PREFIX, len(columns))),
        )
        make = formset._construct_form  # type: ignore[attr-defined]  # django-stubs leave this method out
        body = [
            _row(make(index, **formset.get_form_kwargs(index)), index + 1, len(columns)) for index in range(started)
        ]
        placeholder = shown(empty.prefix)
        body += [
            blank.replace(placeholder, shown(formset.add_prefix(index))).replace(STAMP_PREFIX, str(index + 1))
            for index in range(started, total)
        ]
    html = (
        f'<fieldset class="rows" id="rows-{shown(formset.prefix)}">\n'
        f"  <legend>{shown(heading)}</legend>\n"
        f"  {management}\n"
        f"  {_errors(formset.non_form_errors())}\n"
        '  <div class="table-scroll"><table class="row-table">\n'
        f"    <thead><tr>{head}</tr></thead>\n"
        "    <tbody>\n"
        f"    {''.join(body)}\n"
        "    </tbody>\n"
        "  </table></div>\n"
        '  <p class="help">Leave a row blank to leave it out; clear a row to remove it.</p>\n'
        "</fieldset>\n"
    )
    return mark_safe(html)  # noqa: S308 - every value is escaped by shown() or drawn by the form renderer
