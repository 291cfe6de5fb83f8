"""The second signature of a controlled-substance entry is the second person's own: the witness of a dose, the checker
of a receipt and the witness of a count, inventory, waste, disposal or correction type their own password at the
screen of whoever records it (accounts.services.second_signature_confirm). A wrong one writes nothing and counts
towards the witness's lockout, as a wrong password at sign-in does; the trail records who confirmed and when, never
the password."""

import datetime
import json
import logging
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from kapstone.accounts.services import (
    SecondSignature,
    SecondSignatureRefused,
    second_signature_confirm,
    second_signature_for_demo_seed,
)
from kapstone.audit.models import AuditEvent
from kapstone.dosing import services
from kapstone.dosing.forms import LEDGER_FORMS
from kapstone.dosing.models import DoseRecord, LedgerEntry
from kapstone.dosing.views import LEDGER_PASSWORDS
from tests.conftest import CAST_PASSWORD
from tests.dosing.helpers import signed, signing

WRONG = "not-bobs-password-7"


def _give(client, session, cast, stock, witness, password):
    prefix = f"p{cast.alice.pk}-administer-"
    return client.post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "administer"]),
        {prefix + "balance": stock.pk, **signing(prefix + "witness", witness, password=password)},
    )


def _count(client, stock, witness, password):
    return client.post(
        reverse("dosing:ledger_action", args=["count"]),
        {"count-balance": stock.pk, "count-counted_mg": "2000", **signing("count-witness", witness, password=password)},
    )


def _failures(user) -> int:
    return sum(
        AccessAttempt.objects.filter(username=user.get_username()).values_list("failures_since_start", flat=True)
    )


def test_a_dose_witnessed_with_a_wrong_password_is_refused_and_nothing_is_written(
    cast, session, ready_record, stock, client_for
):
    response = _give(client_for(cast.nurse), session, cast, stock, cast.bob, WRONG)
    page = response.content.decode()
    assert response.status_code == 400
    assert "The witness&#x27;s password is not right." in page
    assert WRONG not in page  # never drawn back into the form
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at is None
    assert not LedgerEntry.objects.filter(kind="administration").exists()
    stock.refresh_from_db()
    assert stock.balance_mg == Decimal("2000")
    # It counts towards the witness's lockout, not the nurse's.
    assert (_failures(cast.bob), _failures(cast.nurse)) == (1, 0)


def test_a_dose_witnessed_with_the_witness_password_is_given_and_the_confirmation_recorded(
    cast, session, ready_record, stock, client_for
):
    response = _give(client_for(cast.nurse), session, cast, stock, cast.bob, CAST_PASSWORD)
    assert response.status_code == 302
    record = DoseRecord.objects.get(pk=ready_record.pk)
    assert record.administered_at is not None and record.witness == cast.bob
    entry = LedgerEntry.objects.get(kind="administration")
    assert entry.witness == cast.bob
    for event in (
        AuditEvent.objects.get(object_type="dose_record.administration"),
        AuditEvent.objects.get(object_type="ledger_entry", object_id=str(entry.pk)),
    ):
        detail = event.detail_data
        assert detail["witness_id"] == cast.bob.pk and detail["witness_confirmed_by"] == "password"
        confirmed_at = datetime.datetime.fromisoformat(detail["witness_confirmed_at"])
        assert abs(confirmed_at - entry.recorded_at) < datetime.timedelta(minutes=1)


def test_each_ledger_form_with_a_wrong_witness_password_writes_nothing(cast, stock, client_for):
    client = client_for(cast.nurse)
    before = LedgerEntry.objects.count()
    response = _count(client, stock, cast.bob, WRONG)
    assert response.status_code == 400
    assert "The witness&#x27;s password is not right." in response.content.decode()
    response = client.post(
        reverse("dosing:ledger_action", args=["receipt"]),
        {
            "receipt-drug": "ketamine",
            "receipt-form": "lozenge",
            "receipt-strength": "100",
            "receipt-lot_number": "NEW-1",
            "receipt-expires_on": "2030-01-01",
            "receipt-location": "Main safe",
            "receipt-containers": "1",
            "receipt-units_per_container": "10",
            "receipt-supplier_name": "Synthetic Wholesale",
            "receipt-supplier_dea_number": "RC2345672",
            "receipt-invoice_number": "INV-NEW-1",
            "receipt-received_on": datetime.date.today().isoformat(),
            **signing("receipt-checked_by", cast.bob, password=WRONG),
        },
    )
    assert response.status_code == 400
    assert "The checker&#x27;s password is not right." in response.content.decode()
    assert LedgerEntry.objects.count() == before
    assert _failures(cast.bob) == 2


def test_a_witness_is_locked_out_after_the_failure_limit_and_cannot_sign_or_sign_in(cast, stock, client_for):
    client = client_for(cast.nurse)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _count(client, stock, cast.bob, WRONG)
        assert response.status_code == 400
    # The lockout is the witness's: the nurse's page is still the ledger, not the lockout page.
    assert "locked after too many wrong passwords" in response.content.decode()
    # Now even the right password is refused, without being tried.
    response = _count(client, stock, cast.bob, CAST_PASSWORD)
    assert response.status_code == 400 and "locked after too many wrong passwords" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="count").exists()
    # The witness cannot sign in either, as after as many wrong passwords at sign-in.
    signing_in = client_for(cast.charlie).post(
        reverse("accounts:login"), {"username": cast.bob.username, "password": CAST_PASSWORD}
    )
    assert "Account locked" in signing_in.content.decode()
    # The nurse is still signed in, and another witness signs.
    assert client.get(reverse("dosing:ledger")).status_code == 200
    assert _count(client, stock, cast.charlie, CAST_PASSWORD).status_code == 302


def test_one_screen_trying_passwords_on_every_signer_is_stopped_as_the_sign_in_page_stops_it(
    cast, stock, client_for, settings
):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 3
    client = client_for(cast.nurse)
    for signer in (cast.bob, cast.charlie, cast.admin):
        assert _count(client, stock, signer, WRONG).status_code == 400
    response = _count(client, stock, cast.bob, CAST_PASSWORD)
    assert response.status_code == 400 and "no one can sign from it for a while" in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="count").exists()


def test_the_one_recording_cannot_be_their_own_witness_even_with_their_own_password(cast, stock, client_for):
    response = _count(client_for(cast.nurse), stock, cast.nurse, CAST_PASSWORD)
    assert response.status_code == 400
    assert "The witness must be another person than you." in response.content.decode()
    assert not LedgerEntry.objects.filter(kind="count").exists()
    assert _failures(cast.nurse) == 0
    # The service refuses it too, whoever made the signature.
    with pytest.raises(services.DosingError, match="^witness: the second signature must be another person"):
        services.ledger_post(
            actor=cast.nurse,
            lot=stock.lot,
            location=stock.location,
            kind="count",
            change_mg=Decimal("0"),
            counted_mg=Decimal("2000"),
            witness=signed(cast.nurse),
        )


def test_a_deactivated_or_ineligible_witness_is_refused_without_their_password_being_tried(cast, stock, client_for):
    def confirm(signer):
        request = client_for(cast.nurse).get("/").wsgi_request
        request.user = cast.nurse
        return second_signature_confirm(
            request=request, signer=signer, password=CAST_PASSWORD, roles=services.SIGNING_ROLES
        )

    with pytest.raises(SecondSignatureRefused, match="cannot sign this entry"):
        confirm(cast.researcher)
    cast.bob.is_active = False
    cast.bob.save(update_fields=["is_active"])
    with pytest.raises(SecondSignatureRefused, match="cannot sign this entry"):
        confirm(cast.bob)
    assert _failures(cast.bob) == _failures(cast.researcher) == 0
    # Nor does the form accept them.
    response = _count(client_for(cast.nurse), stock, cast.bob, CAST_PASSWORD)
    assert response.status_code == 400 and not LedgerEntry.objects.filter(kind="count").exists()


def test_the_services_take_only_a_confirmed_signature(cast, stock):
    """A person chosen from a list is no signature: the services refuse a bare login, and a signature is made only by
    the confirmation (or the demo seed's)."""
    where = {"actor": cast.nurse, "lot": stock.lot, "location": stock.location, "kind": "count"}
    with pytest.raises(services.DosingError, match="^witness: a second member of staff must sign"):
        services.ledger_post(change_mg=Decimal("0"), counted_mg=Decimal("2000"), witness=cast.bob, **where)
    with pytest.raises(TypeError):
        SecondSignature(signer=cast.bob, confirmed_at=stock.lot.expires_on, method="password")
    assert second_signature_for_demo_seed(signer=cast.bob).method == "demo seed"
    assert not LedgerEntry.objects.filter(kind="count").exists()


def test_the_witness_password_is_kept_nowhere(cast, session, ready_record, stock, client_for, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(cast.nurse)
    _count(client, stock, cast.bob, WRONG)
    response = _give(client, session, cast, stock, cast.bob, CAST_PASSWORD)
    assert response.status_code == 302
    trail = json.dumps([[event.object_type, event.detail] for event in AuditEvent.objects.all()])
    attempts = json.dumps(list(AccessAttempt.objects.values("get_data", "post_data")))
    for password in (WRONG, CAST_PASSWORD):
        assert password not in trail and password not in attempts and password not in caplog.text
    assert "sign_in_failed" in trail  # the wrong one is recorded, as a failed sign-in is: by username alone


def test_the_passwords_are_sensitive_post_parameters(cast, session, ready_record, stock, client_for):
    client = client_for(cast.nurse)
    room = _give(client, session, cast, stock, cast.bob, WRONG)
    assert room.wsgi_request.sensitive_post_parameters == "__ALL__"  # a card's fields are named by patient
    ledger = _count(client, stock, cast.bob, WRONG)
    assert "count-witness_password" in ledger.wsgi_request.sensitive_post_parameters
    assert set(LEDGER_PASSWORDS) >= {
        "receipt-checked_by_password",
        "inventory-witness_password",
        "waste-witness_password",
        "disposal-witness_password",
        "disposal-second_witness_password",
        "correction-witness_password",
    }


def _password_input(page: str, name: str) -> str:
    start = page.index(f'name="{name}"')
    return page[page.rindex("<input", 0, start) : page.index(">", start)]


def test_each_form_with_a_second_signature_shows_its_signers_password_field(cast, session, ready_record, client_for):
    room = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    field = _password_input(room, f"p{cast.alice.pk}-administer-witness_password")
    assert 'type="password"' in field and 'autocomplete="off"' in field
    assert "Witness&#x27;s password" in room
    ledger = client_for(cast.nurse).get(reverse("dosing:ledger")).content.decode()
    for kind, form_class in LEDGER_FORMS.items():
        for signature in form_class.signatures:
            field = _password_input(ledger, f"{kind}-{signature.password_field}")
            assert 'type="password"' in field and 'autocomplete="off"' in field
    assert "Checker&#x27;s password" in ledger and "Second witness&#x27;s password" in ledger
