"""The settings page's cards of declared settings, written out in Python.

The page draws one card for each of some seventy-five settings; drawn by the template (practice/includes/
setting_card.html, which this replaces), each card's thirty-odd lookups, conditions and escapes took almost all of
the page's CPU time (issue 19). The markup is exactly what the template drew, line breaks and indentation
included: tests/foundation/test_setting_cards.py draws cards of every state both ways.
"""

from django.template.defaultfilters import date
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from kapstone.formrender import shown
from kapstone.practice.registry import SettingSpec
from kapstone.practice.selectors import SettingRow


def _unit_after(spec: SettingSpec, condition: object) -> str:
    """`{% if condition %} {{ spec.unit }}{% endif %}`."""
    return f" {shown(spec.unit)}" if condition else ""


def _value_field(row: SettingRow, anchor: str, is_refused: bool, refused) -> str:
    """The new value's select, textarea or text input, between the template's `{% if %}` lines."""
    spec = row.spec
    described = f"{anchor}-help" + (f" {anchor}-error" if is_refused else "")
    invalid = ' aria-invalid="true"' if is_refused else ""
    widget = spec.kind.widget
    if widget == "select":
        options = "".join(
            f'\n          <option value="{shown(option)}"'
            + (
                " selected"
                if (is_refused and refused.value == option) or (not is_refused and row.form_text == option)
                else ""
            )
            + f">{shown(option_label)}</option>\n          "
            for option, option_label in spec.kind.choices  # type: ignore[attr-defined]  # a select's kind has choices
        )
        return (
            f'\n        <select id="{anchor}-value" name="value" aria-describedby="{described}">\n'
            f"          {options}\n"
            "        </select>\n        "
        )
    text = shown(refused.value) if is_refused else shown(row.form_text)
    if widget == "textarea":
        return (
            f'\n        <textarea id="{anchor}-value" name="value" rows="5" aria-describedby="{described}"{invalid}>'
            f"{text}</textarea>\n        "
        )
    return (
        f'\n        <input type="text" inputmode="decimal" id="{anchor}-value" name="value" value="{text}" '
        f'aria-describedby="{described}"{invalid}>\n        '
    )


def _forms(row: SettingRow, anchor: str, is_refused: bool, refused, settings_url: str, csrf_field: str) -> str:
    """The change form, and the reset form where the practice has its own value, in their details."""
    spec = row.spec
    label = shown(spec.label)
    key = shown(spec.key)
    unit = f" ({shown(spec.unit)})" if spec.unit else ""
    error = f'<p class="error" role="alert" id="{anchor}-error">{shown(refused.message)}</p>' if is_refused else ""
    help_text = "Choose one" if spec.kind.widget == "select" else f"Enter {shown(spec.kind.describe())}"
    bounds = f", within the hard bounds ({shown(spec.describe_hard_bounds())})" if spec.has_hard_bounds else ""
    change_reason = shown(refused.reason) if is_refused and refused.action == "change" else ""
    proposal_help = (
        '<p class="help">A prescriber approves this change before it takes effect.</p>' if row.may_propose else ""
    )
    reset = ""
    if row.stored:
        reset_reason = shown(refused.reason) if is_refused and refused.action == "reset" else ""
        reset_words = "Propose a reset to the cited default" if row.may_propose else "Reset to the cited default"
        reset = (
            f'\n    <form method="post" action="{settings_url}" novalidate>\n'
            f"      {csrf_field}\n"
            f'      <input type="hidden" name="key" value="{key}">\n'
            '      <div class="field">\n'
            f'        <label for="{anchor}-reset-reason">Why return to the cited default '
            '<span class="req" aria-hidden="true">*</span></label>\n'
            f'        <textarea id="{anchor}-reset-reason" name="reason" rows="2" required>{reset_reason}</textarea>\n'
            "      </div>\n"
            f'      <button type="submit" name="action" value="reset" class="secondary">{reset_words}'
            f'<span class="visually-hidden">: {label}</span></button>\n'
            "    </form>\n    "
        )
    return (
        f"\n  <details{' open' if is_refused else ''}>\n"
        f"    <summary>{'Propose a change' if row.may_propose else 'Change'}"
        f'<span class="visually-hidden"> {label}</span></summary>\n'
        f"    {error}\n"
        f'    <form method="post" action="{settings_url}" novalidate>\n'
        f"      {csrf_field}\n"
        f'      <input type="hidden" name="key" value="{key}">\n'
        '      <div class="field">\n'
        f'        <label for="{anchor}-value">New value{unit}</label>\n'
        f"        {_value_field(row, anchor, is_refused, refused)}\n"
        f'        <p class="help" id="{anchor}-help">{help_text}{bounds}.</p>\n'
        "      </div>\n"
        '      <div class="field">\n'
        f'        <label for="{anchor}-reason">Why this practice uses its own value '
        '<span class="req" aria-hidden="true">*</span></label>\n'
        f'        <textarea id="{anchor}-reason" name="reason" rows="2" required>{change_reason}</textarea>\n'
        "      </div>\n"
        f"      {proposal_help}\n"
        f'      <button type="submit" name="action" value="change">{"Propose" if row.may_propose else "Save"}'
        f'<span class="visually-hidden"> {label}</span></button>\n'
        "    </form>\n"
        f"    {reset}\n"
        "  </details>\n  "
    )


def _default_shown(row: SettingRow) -> str:
    """The cited default, or "the same" where it is the value in force: a list of instructions or crisis lines
    printed twice made the page twice as long to read for nothing."""
    if (row.default_display, row.default_text) == (row.in_force_display, row.in_force_text):
        return '<span class="muted">the same</span>'
    return (
        f'<span class="setting-value">{shown(row.default_display or "none set")}</span>'
        f"{_unit_after(row.spec, row.default_text)}"
    )


def setting_card(row: SettingRow, *, is_refused: bool, refused, settings_url: str, csrf_field: str) -> SafeString:
    """One setting's card as practice/includes/setting_card.html drew it. `refused` is the page's RefusedChange
    (read only when `is_refused`), `settings_url` the escaped address the forms post to, and `csrf_field` the
    page's `{% csrf_token %}` markup."""
    spec = row.spec
    stored = row.stored
    anchor = shown(row.anchor)
    label = shown(spec.label)
    note = f' <span class="muted">({shown(spec.note)})</span>' if spec.note else ""
    hard_bounds = ""
    if spec.has_hard_bounds:
        hard_bounds = (
            "\n    <dt>Hard bounds</dt>\n"
            f"    <dd>{shown(spec.describe_hard_bounds())}: {shown(spec.hard_why)} "
            f'<span class="source">({shown(spec.hard_source)})</span></dd>\n    '
        )
    why = ""
    if stored:
        updated_at = shown(date(localtime(stored.updated_at), "j M Y H:i"))
        why = (
            "\n    <dt>Why</dt>\n"
            f'    <dd>{shown(stored.reason)} <span class="muted">· set by {shown(stored.updated_by)}, '
            f"{updated_at}</span></dd>\n    "
        )
    problem = ""
    if row.problem:
        fallback = " The apps use the cited default until it is changed." if spec.has_hard_bounds else ""
        problem = (
            f'\n  <p class="notice">The stored value cannot be used: it {shown(row.problem)}.{fallback} '
            "Change it, or reset it to the cited default.</p>\n  "
        )
    past_bound = ""
    if row.past_bound:
        stored_value = shown(stored.value) if stored else ""
        past_bound = (
            f'\n  <p class="notice">The stored value {stored_value}{_unit_after(spec, spec.unit)} is past a hard '
            f"bound: this setting {shown(row.past_bound)}. The apps use {shown(row.in_force_text)}"
            f"{_unit_after(spec, spec.unit)} until it is changed.</p>\n  "
        )
    pending = "".join(
        f'\n  <p class="notice">Proposed by {shown(item.proposal.proposed_by.get_username())}: '
        + (
            f"reset to {shown(item.value_text)}"
            if item.proposal.action == "reset"
            else f"{shown(item.value_text)}{_unit_after(spec, spec.unit)}"
        )
        + f'. <a href="#{shown(item.anchor)}">See the proposal</a></p>\n  '
        for item in row.pending
    )
    if row.may_change or row.may_propose:
        actions = _forms(row, anchor, is_refused, refused, settings_url, csrf_field)
    elif spec.clinical:
        actions = '\n  <p class="muted">A prescriber changes this setting.</p>\n  '
    else:
        actions = '\n  <p class="muted">The practice admin changes this setting.</p>\n  '
    stored_badge = (
        '<span class="badge warn">practice value</span>' if stored else '<span class="badge ok">cited default</span>'
    )
    kind_badge = (
        '<span class="badge">clinical: a prescriber changes it</span>'
        if spec.clinical
        else '<span class="badge">operational: the practice admin changes it</span>'
    )
    unverified_badge = "" if spec.verified else '<span class="badge">source not yet verified</span>'
    pending_badge = '<span class="badge warn">change proposed</span>' if row.pending else ""
    card = (
        "\n"
        f'<section class="card setting{" has-error" if is_refused else ""}" id="{anchor}" '
        f'aria-labelledby="{anchor}-h">\n'
        f'  <h3 id="{anchor}-h">{label}</h3>\n'
        '  <p class="setting-badges">\n'
        f"    {stored_badge}\n"
        f"    {unverified_badge}\n"
        f"    {kind_badge}\n"
        f"    {pending_badge}\n"
        "  </p>\n"
        '  <dl class="definition">\n'
        "    <dt>In force</dt>\n"
        f'    <dd><span class="setting-value">{shown(row.in_force_display or "none set")}</span>'
        f"{_unit_after(spec, row.in_force_text)}</dd>\n"
        "    <dt>Cited default</dt>\n"
        f"    <dd>{_default_shown(row)}</dd>\n"
        "    <dt>Source</dt>\n"
        f'    <dd class="source">{shown(spec.source)}{note}</dd>\n'
        f"    {hard_bounds}\n"
        f"    {why}\n"
        "    <dt>Key</dt>\n"
        f"    <dd><code>{shown(spec.key)}</code></dd>\n"
        "  </dl>\n"
        f"  {problem}\n"
        f"  {past_bound}\n"
        f"  {pending}\n"
        f"  {actions}\n"
        "</section>\n"
        "\n"
    )
    return mark_safe(card)  # noqa: S308 - every value is escaped by shown()
