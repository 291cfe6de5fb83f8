"""The ledger page's forms share their reads (read_once): each comes out as the same form reading its own choices
draws it, for doses given in the last two days with and without a lot."""

import datetime
import re

from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import forms, services
from kapstone.dosing.forms import LEDGER_FORMS
from kapstone.formrender import form_fields, read_choices_once
from tests.dosing.helpers import signed


def test_each_ledger_form_reading_with_the_page_comes_out_as_reading_its_own_choices(
    cast, stock, ready_record, earlier_dose
):
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    earlier_dose(cast.dana, timezone.now() - datetime.timedelta(hours=5))  # no lot recorded
    read_once: dict = {}
    page = {kind: form_class(prefix=kind, read_once=read_once) for kind, form_class in LEDGER_FORMS.items()}
    alone = {kind: form_class(prefix=kind) for kind, form_class in LEDGER_FORMS.items()}
    read_choices_once(page.values())
    read_choices_once(alone.values())
    for kind in LEDGER_FORMS:
        assert form_fields(page[kind]) == form_fields(alone[kind]), kind
    waste = form_fields(page["waste"])
    assert f"#{ready_record.pk} " in waste and f"lot {stock.lot.lot_number}" in waste and "mg lot ?" in waste


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def test_the_ledger_page_draws_its_empty_forms_without_making_them_until_what_they_offer_changes(
    cast, stock, ready_record, client_for, monkeypatch
):
    """The page tells what each empty form offers without making it (page_offers) and draws it as it last did
    (issue 19); a form that offers something new (a dose just given) is made and drawn anew."""
    client = client_for(cast.nurse)
    url = reverse("dosing:ledger")
    first = client.get(url).content.decode()
    made = []
    monkeypatch.setattr(forms._Signed, "_set_querysets", lambda form, read_once: made.append(form.prefix))
    assert _without_tokens(client.get(url).content.decode()) == _without_tokens(first)
    assert made == []
    monkeypatch.undo()
    assert f"#{ready_record.pk} " not in first.split('name="waste-dose_record"')[1].split("</select>")[0]
    services.dose_administer(actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob))
    waste = client.get(url).content.decode().split('name="waste-dose_record"')[1].split("</select>")[0]
    assert f"#{ready_record.pk} " in waste
