"""The screening page: a prescriber records a decision to go ahead without the advice of an outside clinician the
practice requires, on their latest contact that had no reply or that they declined (screening:advice_override)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.patients.models import ExternalClinician
from kapstone.screening import services
from kapstone.screening.models import Consultation, ConsultationOverride
from tests.conftest import signed_in_client
from tests.screening import helpers

pytestmark = pytest.mark.django_db

REASON = "Three calls and a letter over six weeks went unanswered; the GP supports KAP and we monitor every session."


@pytest.fixture
def no_reply(cast):
    """alice screened and consented, her GP's support logged, her outside psychiatrist not answering."""
    helpers.screen(cast)
    helpers.sign_consent(cast)
    contacts = {}
    for kind, name, outcome in [
        ("primary_care", "Dr. Sam Okoro", "supports"),
        ("psychiatrist", "Dr. Ruth Mendel", "no_reply"),
    ]:
        clinician = ExternalClinician.objects.create(patient=cast.alice, kind=kind, name=name)
        contacts[kind] = services.consultation_record(
            actor=cast.bob,
            patient=cast.alice,
            external_clinician=clinician,
            staff=cast.bob,
            contacted_at=timezone.now() - datetime.timedelta(days=1),
            method=Consultation.Method.PHONE,
            outcome=outcome,
        )
    return contacts["psychiatrist"]


def page_of(client, cast) -> str:
    return client.get(reverse("screening:patient", kwargs={"patient_id": cast.alice.pk})).text


def post(client, entry, reason=REASON):
    url = reverse("screening:advice_override", kwargs={"consultation_id": entry.pk})
    return client.post(url, {f"advice-{entry.pk}-reason": reason})


def test_a_prescriber_goes_ahead_without_the_advice_and_the_page_says_so(cast, no_reply):
    client = signed_in_client(cast.bob)
    page = page_of(client, cast)
    assert "Dr. Ruth Mendel has not been consulted" in page and "cannot join a group yet" in page
    assert "Go ahead without their advice (prescriber)" in page and "advice awaited" in page
    assert "whose kind the practice requires (psychiatrist, therapist)" in page
    response = post(client, no_reply)
    assert response.status_code == 302
    override = ConsultationOverride.objects.get()
    assert (override.consultation, override.prescriber, override.reason) == (no_reply, cast.bob, REASON)
    page = page_of(client, cast)
    assert "Going ahead without their advice" in page and REASON in page and "may join a group" in page


def test_only_the_unanswered_contact_of_a_required_clinician_offers_the_decision(cast, no_reply):
    page = page_of(signed_in_client(cast.bob), cast)
    assert page.count("Go ahead without their advice (prescriber)") == 1
    assert f'action="{reverse("screening:advice_override", kwargs={"consultation_id": no_reply.pk})}"' in page


@pytest.mark.parametrize("who", ["therapist", "nurse", "admin"])
def test_other_roles_see_no_form_and_are_refused(cast, no_reply, who):
    client = signed_in_client(getattr(cast, who))
    if who != "admin":
        assert "Go ahead without their advice (prescriber)" not in page_of(client, cast)
    assert post(client, no_reply).status_code == 403
    assert not ConsultationOverride.objects.exists()


def test_a_prescriber_outside_the_care_team_gets_404(cast, no_reply):
    assert post(signed_in_client(cast.charlie), no_reply).status_code == 404
    assert not ConsultationOverride.objects.exists()


@pytest.mark.parametrize("reason", ["", "no reply", "x" * 4001])
def test_a_missing_short_or_overlong_reason_is_sent_back_and_nothing_is_saved(cast, no_reply, reason):
    response = post(signed_in_client(cast.bob), no_reply, reason)
    assert response.status_code == 400
    assert "Dr. Ruth Mendel has not been consulted" in response.text
    assert not ConsultationOverride.objects.exists()


def test_an_older_contact_is_refused_with_a_message(cast, no_reply):
    later = services.consultation_record(
        actor=cast.bob,
        patient=cast.alice,
        external_clinician=no_reply.external_clinician,
        staff=cast.bob,
        contacted_at=timezone.now(),
        method=Consultation.Method.EMAIL,
        outcome="declined",
    )
    client = signed_in_client(cast.bob)
    response = post(client, no_reply)
    assert response.status_code == 400 and "A later contact with" in response.text
    assert post(client, later).status_code == 302
    assert ConsultationOverride.objects.get().consultation == later


@pytest.mark.parametrize("consultation_id", ["999999", "0"])
def test_an_unknown_contact_is_404(cast, consultation_id):
    url = f"/screening/consultations/{consultation_id}/override/"
    assert signed_in_client(cast.bob).post(url, {"advice-1-reason": REASON}).status_code == 404
