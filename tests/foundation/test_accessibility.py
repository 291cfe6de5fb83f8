"""Forms name their inputs and descriptions as assistive technology reads them, and every signed-in page can warn
before the idle sign-out (the browser scan in tests/browser/test_accessibility.py checks the rest with axe-core)."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.urls import reverse

from kapstone.accounts.sessions.db import EXPIRY_PUSH_SLACK
from kapstone.screening import intake_fields
from tests.conftest import signed_in_client
from tests.contrast import contrast

CONTROLS = {"input", "select", "textarea"}


class _Page(HTMLParser):
    """The ids on a page, the labels' targets, the aria-describedby references and the form controls."""

    def __init__(self):
        super().__init__()
        self.ids, self.label_targets, self.described_by, self.controls = set(), set(), [], []
        self._in_label = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "label":
            self._in_label += 1
            if attrs.get("for"):
                self.label_targets.add(attrs["for"])
        if attrs.get("aria-describedby"):
            self.described_by += attrs["aria-describedby"].split()
        if tag in CONTROLS and attrs.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**attrs, "_wrapped": self._in_label > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self._in_label -= 1


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def unlabelled(page: _Page) -> list[str]:
    return [
        control.get("name", "?")
        for control in page.controls
        if not control["_wrapped"]
        and control.get("id") not in page.label_targets
        and not control.get("aria-label")
        and not control.get("aria-labelledby")
    ]


def dangling(page: _Page) -> list[str]:
    return [ref for ref in page.described_by if ref not in page.ids]


class _SampleForm(forms.Form):
    weight = forms.DecimalField(help_text="In kilograms.")
    when = forms.ChoiceField(choices=[("am", "Morning"), ("pm", "Evening")], widget=forms.RadioSelect)
    note = forms.CharField(widget=forms.Textarea, help_text="Optional.", required=False)


def test_the_shared_field_template_gives_help_and_errors_the_ids_django_describes_inputs_by():
    form = _SampleForm(data={"weight": "heavy"})
    html = render_to_string("includes/form_fields.html", {"form": form})
    page = parse(html)
    assert 'aria-describedby="id_weight_helptext id_weight_error"' in html
    assert {"id_weight_helptext", "id_weight_error", "id_note_helptext"} <= page.ids
    assert dangling(page) == []


def test_the_intake_field_describes_a_group_of_choices_by_its_help_and_errors():
    class Choice(forms.Form):
        when = forms.ChoiceField(
            choices=[("am", "Morning"), ("pm", "Evening")], widget=forms.RadioSelect, help_text="Pick one."
        )

    form = Choice(data={})
    html = intake_fields.field(form["when"])
    page = parse(html)
    assert 'aria-describedby="id_when_helptext id_when_error"' in html
    assert dangling(page) == []


def test_every_input_of_the_intake_form_has_a_label_and_its_descriptions_exist(cast):
    client = signed_in_client(cast.bob)
    url = reverse("screening:intake", kwargs={"patient_id": cast.alice.pk})
    page = parse(client.get(url).content.decode())
    assert page.controls, "the intake form has inputs"
    assert unlabelled(page) == []
    assert dangling(page) == []


def test_an_intake_sent_back_with_errors_points_each_input_at_its_message(cast):
    client = signed_in_client(cast.bob)
    url = reverse("screening:intake", kwargs={"patient_id": cast.alice.pk})
    data = dict(_hidden_fields(client.get(url).content.decode()))
    data["assessment_date"] = "not a date"
    response = client.post(url, data)
    assert response.status_code == 400
    page = parse(response.content.decode())
    assert "id_assessment_date_error" in page.ids
    assert dangling(page) == []
    assert unlabelled(page) == []


def _hidden_fields(html: str) -> list[tuple[str, str]]:
    """The formsets' management fields, which a browser would send back."""
    found = []

    class Hidden(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") != "csrfmiddlewaretoken":
                found.append((attrs["name"], attrs.get("value") or ""))

    Hidden().feed(html)
    return found


def test_a_signed_in_page_carries_the_idle_warning_and_its_keep_alive_address(cast):
    html = signed_in_client(cast.alice_user).get(reverse("portal:home")).content.decode()
    # The warning counts down from what the server is sure to give: an expiry pushed a moment ago stays put.
    assert f'data-idle-seconds="{settings.SESSION_COOKIE_AGE - EXPIRY_PUSH_SLACK.seconds}"' in html
    assert f'data-keep-alive-url="{reverse("accounts:keep_alive")}"' in html
    assert 'id="idle-warning"' in html and "Stay signed in" in html


def test_the_sign_in_page_has_no_idle_warning(client, db):
    html = client.get(reverse("accounts:login")).content.decode()
    assert "idle-warning" not in html and "data-user" not in html


def test_staying_signed_in_answers_how_long_the_session_now_lasts(cast):
    response = signed_in_client(cast.nurse).post(reverse("accounts:keep_alive"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"idle_seconds": settings.SESSION_COOKIE_AGE}


def test_staying_signed_in_needs_the_csrf_token(cast):
    client = signed_in_client(cast.nurse, csrf_checks=True)
    assert client.post(reverse("accounts:keep_alive")).status_code == 403


def test_staying_signed_in_is_a_post(cast):
    assert signed_in_client(cast.nurse).get(reverse("accounts:keep_alive")).status_code == 405


def test_someone_already_signed_out_is_sent_to_the_sign_in_page(client, db):
    response = client.post(reverse("accounts:keep_alive"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


STYLESHEET = Path(finders.find("kapstone/site.css"))


def test_the_focus_ring_keeps_three_to_one_against_the_page_the_cards_and_the_header():
    """WCAG 2.1 1.4.11: a focus indicator needs 3:1 against what surrounds it (axe does not check this)."""
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", STYLESHEET.read_text()))
    for background in ("paper", "card"):
        assert contrast(colours["focus"], colours[background]) >= 3, background
    assert contrast(colours["focus-on-accent"], colours["accent"]) >= 3


def _resolved(value: str, colours: dict[str, str]) -> str | None:
    value = value.strip()
    named = re.fullmatch(r"var\(--([a-z-]+)\)", value)
    return colours.get(named.group(1)) if named else value if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def test_text_keeps_four_and_a_half_to_one_against_every_background_the_stylesheet_sets_it_on():
    """WCAG 2.1 1.4.3 (AA): the body's inks on the page and the cards, and every rule that sets a text colour and a
    background together (the badges, the banners, the buttons, the highlighted rows)."""
    text = STYLESHEET.read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", text))
    pairs = [(ink, page) for ink in ("ink", "muted", "accent", "danger", "warn", "ok") for page in ("paper", "card")]
    pairs = [(colours[ink], colours[page], f"{ink} on {page}") for ink, page in pairs]
    pairs.append((colours["accent-ink"], colours["danger"], "a danger button's white"))
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declared = dict(re.findall(r"(?:^|;)\s*(color|background)\s*:\s*([^;]+)", body))
        ink, page = (_resolved(declared.get(name, ""), colours) for name in ("color", "background"))
        if ink and page:
            pairs.append((ink, page, selector.strip()))
        elif page and contrast(page, "#ffffff") < 1.5:
            # A light tint (a highlighted row, a notice, a secondary button) under whatever text lands on it.
            pairs += [
                (colours[ink], page, f"{ink} on {selector.strip()}") for ink in ("ink", "muted", "accent", "danger")
            ]
    assert len(pairs) > 20
    assert [(where, round(contrast(ink, page), 2)) for ink, page, where in pairs if contrast(ink, page) < 4.5] == []


CSP_BLOCKED = re.compile(r"""\sstyle\s*=|<style|<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|javascript:""", re.IGNORECASE)


def test_no_template_holds_what_the_content_security_policy_blocks():
    """Inline styles, inline scripts and event-handler attributes are dropped by the CSP (style-src and
    script-src 'self'), silently: the page renders without them. The browser scan fails on the violation; this
    names the template before any browser runs. Documents that WeasyPrint renders to PDF keep their own <style>
    (no browser applies the CSP to them); their @page rule, meaningful only in print, is what tells them apart."""
    root = Path(finders.find("kapstone/site.css")).parents[3]
    templates = [path for path in root.rglob("templates/**/*") if path.suffix in (".html", ".svg")]
    assert templates
    offending = [
        f"{path.relative_to(root)}: {match.group(0).strip()}"
        for path in templates
        if "@page" not in (text := path.read_text())
        for match in CSP_BLOCKED.finditer(text)
    ]
    assert offending == []


def test_the_patients_demographics_take_two_columns_on_a_tablet_so_an_email_is_not_broken(cast, client_for):
    page = client_for(cast.bob).get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    assert '<section class="card wide" aria-labelledby="demographics">' in page
    assert re.search(
        r"@media \(min-width: 40rem\) \{ \.grid > \.wide \{ grid-column: span 2; \} \}", STYLESHEET.read_text()
    )


def test_a_card_after_a_table_stands_apart_from_it():
    """The staff page's "Add a staff member" card touched the table above it."""
    assert ".table-scroll + .card, table + .card { margin-top: 1rem; }" in STYLESHEET.read_text()


def test_a_cards_first_heading_starts_at_the_cards_padding():
    """Each card's heading carried its own top margin inside the card's padding: a blank line atop every card."""
    assert ".card > :first-child { margin-top: 0; }" in STYLESHEET.read_text()
