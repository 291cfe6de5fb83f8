"""The dosing room's card forms, each in its disclosure, written out in Python (dosing/views.py, _card_form), come out
exactly as the template they replaced (dosing/room_form.html) drew them: empty, with errors, and with awkward text;
and each card's form, drawn once and stamped, as the form made for that card drawn by Django."""

import datetime
import re
from decimal import Decimal

import pytest
import yaml
from django.db import connection
from django.forms import ModelChoiceField
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.safestring import mark_safe

from kapstone import formrender
from kapstone.accounts.roles import Role
from kapstone.dosing import selectors, services, views
from kapstone.dosing.forms import ROOM_FORMS
from kapstone.dosing.models import DoseRecord
from kapstone.dosing.room_cards import DOSE_GIVING_ROLES
from kapstone.dosing.views import ROOM_FORM_BUTTONS, ROOM_FORM_LABELS, _card_form, _DrawnForm
from kapstone.measures import scoring
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import Enrolment
from tests.conftest import make_patient, make_user, signed_in_client
from tests.dosing.helpers import checked_in_with_vitals, receive_stock, signing
from tests.screening.helpers import ready_for_enrolment

# dosing/room_form.html, as each card included it for each of its forms.
ROOM_FORM_TEMPLATE = """<details{% if form.errors %} open{% endif %}>
  <summary>{{ label }}</summary>
  <form method="post" action="{% url 'dosing:room_action' session.pk patient.pk action %}" novalidate>
    {% csrf_token %}
    {{ form.fields }}
    <button type="submit">{{ button }}</button>
  </form>
</details>
"""


class _Pk:
    def __init__(self, pk: int):
        self.pk = pk


@pytest.mark.parametrize("errors", [False, True])
@pytest.mark.parametrize(
    ("label", "button"),
    [*((ROOM_FORM_LABELS[action], ROOM_FORM_BUTTONS[action]) for action in ROOM_FORM_LABELS), ('Odd "<&>', "Odd <&>")],
)
def test_a_card_form_comes_out_as_the_template_drew_it(label, button, errors):
    drawn = _DrawnForm(mark_safe('<div class="field"><input name="p7-note-text"></div>'), errors=errors)
    token = "abcDEF123"
    by_template = Template(ROOM_FORM_TEMPLATE).render(
        Context(
            {
                "form": drawn,
                "label": label,
                "button": button,
                "session": _Pk(3),
                "patient": _Pk(7),
                "action": "note",
                "csrf_token": token,
            }
        )
    )
    url = reverse("dosing:room_action", args=[3, 7, "note"])
    assert _card_form(drawn, label=label, button=button, url=url, csrf_token=token) == by_template


def test_each_card_form_has_a_button_saying_what_it_records():
    assert set(ROOM_FORM_BUTTONS) == set(ROOM_FORM_LABELS) == set(ROOM_FORMS)
    assert "Save" not in ROOM_FORM_BUTTONS.values() and len(set(ROOM_FORM_BUTTONS.values())) == len(ROOM_FORM_BUTTONS)


def _card_forms_shown(page: str, session, room) -> dict[tuple[int, str], str]:
    """The room page's card forms by (patient, action): the address each posts to, as reverse writes it."""
    shown = {}
    for entry in room:
        for action in ROOM_FORMS:
            url = reverse("dosing:room_action", args=[session.pk, entry.patient.pk, action])
            if f'action="{url}"' in page:
                shown[(entry.patient.pk, action)] = url
    return shown


@pytest.fixture
def vial_lot(cast):
    """A ketamine injection lot (vials), which fits an IM or IV order and not a sublingual one."""
    return receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="injection",
        strength=Decimal("50"),
        lot_number="INJ-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
    ).lot.balances.get()


@pytest.fixture
def im_order(cast, session):
    """Puts a patient in the session (beside Alice's sublingual order) checked in, with pre-dose vitals and a 35 mg
    IM order."""
    practice_value_set(actor=cast.bob, key="dosing.ceiling_im_mg_per_kg", value=0.5, reason="[loo-2016]")

    def ordered(given: str) -> DoseRecord:
        patient = make_patient(given, "Room", user=make_user(given.lower(), Role.PATIENT), team=[cast.bob, cast.nurse])
        ready_for_enrolment(cast, patient)
        Enrolment.objects.create(group=session.group, patient=patient, status=Enrolment.Status.ENROLLED)
        record = checked_in_with_vitals(cast, session, patient)
        services.dose_order(actor=cast.bob, record=record, route="im", dose_mg=Decimal("35"))
        return record

    return ordered


def _lots_offered(page: str, patient) -> str:
    """The options of the patient's card's lot select."""
    select = page[page.index(f'name="p{patient.pk}-administer-balance"') :]
    return select[: select.index("</select>")]


@pytest.mark.parametrize("user", ["bob", "nurse", "therapist", "admin"])
def test_each_card_draws_the_form_made_for_it_as_django_draws_it(
    cast, session, ready_record, stock, vial_lot, im_order, user, monkeypatch
):
    """The room draws each kind of empty form once (those fixed by their class once for the process; the form to give
    a dose once for each route ordered; a checked-in card's checklist, which opens on what was recorded, for its card),
    stamps it with each card's prefix, reads the witnesses once for the form and the records' staff, and writes each
    card's address from one reverse (issue 19): each card's form comes out as the form made for that card drawn by
    Django."""
    monkeypatch.setattr(views, "_FIXED_DRAWINGS", {})
    im_order("Bea")
    viewer = getattr(cast, user)
    client = signed_in_client(viewer)
    url = reverse("dosing:room", args=[session.pk])
    session, room = selectors.session_room(user=viewer, session_id=session.pk)
    for _ in range(2):  # the second time, from the drawings kept
        page = client.get(url).content.decode()
        shown = _card_forms_shown(page, session, room)
        # Every card form's address is one reverse writes.
        assert set(re.findall(r'<form method="post" action="([^"]*/patient/[^"]*)"', page)) == set(shown.values())
        for entry in room:
            for action in ROOM_FORMS:
                if (entry.patient.pk, action) not in shown:
                    continue
                # The form to give a dose offers every witness but the viewer, who gives it, and the lots that fit
                # the card's order.
                others = {"witnesses": [w for w in views.room_witnesses() if w.pk != viewer.pk]}
                route = entry.record.route if entry.record is not None else ""
                made = {**others, "route": route} if action == "administer" else {}
                # A checked-in card's checklist opens on what was recorded.
                if action == "checkin" and entry.record is not None and entry.record.checked_in_at is not None:
                    made = {"initial": views._checklist_as_recorded(entry.record)}
                form = ROOM_FORMS[action](prefix=f"p{entry.patient.pk}-{action}", **made)
                for name in views._left_out(action, role=viewer.role, entry=entry):
                    form.fields.pop(name, None)
                assert formrender.form_fields(form) in page, (entry.patient, action)
    assert {action for _, action in shown} >= {"checkin", "note"}
    if viewer.role in DOSE_GIVING_ROLES:
        assert "administer" in {action for _, action in shown}


def test_the_forms_drawn_once_for_the_process_read_nothing_when_made():
    """A fixed card form (views.FIXED_ROOM_FORMS) offers no rows of the database and sets nothing when made: what it
    draws is the same for every request."""
    for action in views.FIXED_ROOM_FORMS:
        form_class = ROOM_FORMS[action]
        assert "__init__" not in vars(form_class), action
        assert not any(isinstance(field, ModelChoiceField) for field in form_class.base_fields.values()), action


def test_the_suicide_risk_form_kept_drawn_shows_the_screeners_wording_as_it_changes(
    cast, session, ready_record, settings, tmp_path
):
    """The room keeps the suicide-risk form drawn while the screener's wording is unchanged (the form's questions are
    its only part read when it is made): a practice's new wording is shown on the next load."""
    client = signed_in_client(cast.bob)
    url = reverse("dosing:room", args=[session.pk])
    assert "Have you actually had any thoughts of killing yourself?" in client.get(url).content.decode()
    wording = {
        "instrument": "cssrs-screener",
        "instrument_version": 1,
        "licence": "Synthetic test wording.",
        "items": {number: {"text": f"Synthetic screener question {number}"} for number in range(1, 7)},
    }
    (tmp_path / "cssrs-screener.yaml").write_text(yaml.safe_dump(wording), encoding="utf-8")
    settings.INSTRUMENT_WORDING_DIR = str(tmp_path)
    scoring._load_all.cache_clear()
    try:
        page = client.get(url).content.decode()
    finally:
        settings.INSTRUMENT_WORDING_DIR = ""
        scoring._load_all.cache_clear()
    assert "2. Synthetic screener question 2" in page
    assert "thoughts of killing yourself" not in page
    assert "Have you actually had any thoughts of killing yourself?" in client.get(url).content.decode()


def test_a_card_offers_only_the_lots_that_fit_its_ordered_route(
    cast, session, ready_record, stock, vial_lot, im_order, client_for
):
    """Alice's sublingual order is offered the lozenge lot and not the vial lot; Bea's IM order the reverse: the
    nurse cannot pick a lot that services.dose_administer would refuse for the route."""
    bea = im_order("Bea").patient
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    sublingual, im = _lots_offered(page, cast.alice), _lots_offered(page, bea)
    assert f'value="{stock.pk}"' in sublingual and "L-001" in sublingual
    assert f'value="{vial_lot.pk}"' not in sublingual and "INJ-1" not in sublingual
    assert f'value="{vial_lot.pk}"' in im and "INJ-1" in im
    assert f'value="{stock.pk}"' not in im and "L-001" not in im


def test_a_card_whose_route_no_lot_in_stock_fits_says_so(cast, session, ready_record, vial_lot, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    offered = _lots_offered(page, cast.alice)
    assert "No lot in stock fits a sublingual lozenge order" in offered
    assert "INJ-1" not in offered and "<option" in offered and offered.count("<option") == 1


def test_a_lot_that_does_not_fit_sent_anyway_is_refused_and_the_form_offers_only_those_that_fit(
    cast, session, ready_record, stock, vial_lot, client_for
):
    response = client_for(cast.nurse).post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "administer"]),
        {
            f"p{cast.alice.pk}-administer-balance": vial_lot.pk,
            **signing(f"p{cast.alice.pk}-administer-witness", cast.bob),
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "An injection lot does not fit a sublingual lozenge order" in page
    offered = _lots_offered(page, cast.alice)
    assert "L-001" in offered and "INJ-1" not in offered
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is None


def _queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_room_reads_the_lots_once_whatever_the_routes_its_cards_ordered(
    cast, session, ready_record, stock, vial_lot, im_order, client_for
):
    """The lots are read once for the page and each route's form drawn once: the room's queries stay the same as
    cards on another route join it."""
    url = reverse("dosing:room", args=[session.pk])
    client = client_for(cast.nurse)
    before = _queries(client, url)
    im_order("Bea")
    im_order("Cas")
    page = client.get(url).content.decode()
    assert "INJ-1" in page and "L-001" in page
    assert _queries(client, url) == before
