"""An optional choice starts at words that say what choosing nothing means, not Django's row of dashes."""

from django.urls import reverse


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_ledger_offers_all_lots_and_a_disposal_with_one_witness(cast, client_for):
    page = _page(client_for(cast.nurse), reverse("dosing:ledger"))
    assert '<option value="" selected>All lots</option>' in page
    assert '<option value="" selected>None (one witness)</option>' in page
    assert "---------" not in page


def test_a_consultation_with_someone_not_listed_says_to_type_their_name(cast, client_for):
    page = _page(client_for(cast.bob), reverse("screening:patient", args=[cast.alice.pk]))
    assert '<option value="" selected>Not listed: type the name below</option>' in page
    assert "---------" not in page


def test_a_care_team_without_a_lead_says_so(cast, client_for):
    page = _page(client_for(cast.admin), reverse("patients:care_team", args=[cast.alice.pk]))
    assert ">No lead named</option>" in page
    assert "---------" not in page
