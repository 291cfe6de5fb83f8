"""A questionnaire whose wording Kapstone may not ship, and the practice has not supplied, is not sent to the
patient: the care team completes it with them, until the practice supplies the wording."""

import datetime
import re

import pytest
import yaml
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from kapstone.measures import scoring, selectors, services
from kapstone.measures.models import Assessment, Invitation, ReminderLog
from tests.measures.factories import due_assessment

EBI_WORDING = {
    "instrument": "ebi",
    "instrument_version": 1,
    "licence": "Synthetic test wording standing in for the practice's licensed copy.",
    "items": {number: {"text": f"Synthetic statement {number}"} for number in range(1, 7)},
}


@pytest.fixture
def ebi_wording(wording_dir):
    (wording_dir / "ebi.yaml").write_text(yaml.safe_dump(EBI_WORDING), encoding="utf-8")
    scoring._load_all.cache_clear()
    return wording_dir


def link_path(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/portal/i/\S+)", body).group(1)


@pytest.mark.parametrize(
    ("instrument_id", "answerable"),
    [
        ("phq9", True),
        ("gad7", True),
        ("pcl5", True),
        ("cssrs-screener", True),
        ("ebi", False),
        ("qids-sr16", False),
        ("meq30", False),
        ("oci-r", False),
        ("ede-q", False),
        ("cadss", False),
        ("bdi-ii", False),  # a total from a licensed form: never the patient's to fill in
    ],
)
def test_a_patient_can_answer_only_instruments_whose_items_have_words(instrument_id, answerable):
    assert scoring.get_instrument(instrument_id).patient_can_answer is answerable


def test_the_practices_wording_lets_a_patient_answer_the_instrument(ebi_wording):
    assert scoring.get_instrument("ebi").patient_can_answer
    assert "ebi" in scoring.instruments_patients_can_answer()


def test_no_invitation_or_reminder_goes_for_a_questionnaire_the_patient_cannot_answer(cast):
    ebi = due_assessment(cast.alice, "ebi")
    start = timezone.now()
    for day in range(0, 10):  # past its 7-day window
        assert services.reminders_send_due(now=start + datetime.timedelta(days=day, minutes=1)) == 0
    assert not mail.outbox and not ReminderLog.objects.exists() and not Invitation.objects.exists()
    ebi.refresh_from_db()
    assert ebi.status == Assessment.Status.EXPIRED  # still scheduled and due: it lapses like any other


def test_a_message_for_several_questionnaires_leaves_out_the_one_the_patient_cannot_answer(cast):
    phq9 = due_assessment(cast.alice, "phq9")
    due_assessment(cast.alice, "ebi")
    assert services.reminders_send_due() == 1
    assert len(mail.outbox) == 1 and "a short questionnaire" in mail.outbox[0].body
    assert list(ReminderLog.objects.values_list("assessment", flat=True)) == [phq9.pk]


def test_once_the_practice_supplies_the_wording_the_questionnaire_is_sent_and_opens(cast, client_for, ebi_wording):
    ebi = due_assessment(cast.alice, "ebi")
    assert services.reminders_send_due() == 1
    client = client_for(cast.alice_user)
    redirected = client.get(link_path(mail.outbox[0].body))
    assert redirected.url == reverse("portal:questionnaire", args=[ebi.pk])
    page = client.get(redirected.url)
    assert page.status_code == 200 and "Synthetic statement 6" in page.content.decode()


def test_the_portal_home_does_not_list_it_and_its_page_is_not_found(cast, client_for):
    phq9 = due_assessment(cast.alice, "phq9")
    ebi = due_assessment(cast.alice, "ebi")
    client = client_for(cast.alice_user)
    home = client.get(reverse("portal:home")).content.decode()
    assert reverse("portal:questionnaire", args=[phq9.pk]) in home
    assert reverse("portal:questionnaire", args=[ebi.pk]) not in home and "EBI" not in home
    url = reverse("portal:questionnaire", args=[ebi.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"item_1": "50", "action": "save"}).status_code == 404
    ebi.refresh_from_db()
    assert ebi.answers == {} and ebi.status == Assessment.Status.DUE


def test_the_portal_home_lists_it_once_the_practice_supplies_the_wording(cast, client_for, ebi_wording):
    ebi = due_assessment(cast.alice, "ebi")
    home = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    assert reverse("portal:questionnaire", args=[ebi.pk]) in home


def test_an_invitation_sent_before_the_wording_was_withdrawn_no_longer_opens_it(cast, client_for):
    ebi = due_assessment(cast.alice, "ebi")
    invitation, token = services.invitation_create(assessment=ebi)  # as if sent while the wording was there
    response = client_for(cast.alice_user).get(reverse("portal:invitation", args=[token]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert "Your care team will go through this questionnaire with you." in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.used_at is None


def test_the_clinician_page_lists_it_as_to_complete_with_the_patient(cast, client_for):
    first = due_assessment(cast.alice, "ebi", occasion="day_after_dosing_1")
    due_assessment(cast.alice, "ebi", occasion="day_after_dosing_2")
    due_assessment(cast.alice, "phq9")
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert page.count("to complete with the patient</span>") == 2
    assert reverse("measures:record", args=[cast.alice.pk, first.pk]) in page
    assert page.count("KAPSTONE_INSTRUMENT_WORDING_DIR") == 1  # one line per instrument, not per questionnaire
    assert "EBI is not sent to the patient" in page


def test_the_clinician_page_says_nothing_of_the_kind_once_the_wording_is_supplied(cast, client_for, ebi_wording):
    due_assessment(cast.alice, "ebi")
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "to complete with the patient" not in page and "KAPSTONE_INSTRUMENT_WORDING_DIR" not in page


def test_staff_complete_it_with_the_patient_through_the_entry_form(cast, client_for):
    ebi = due_assessment(cast.alice, "ebi")
    data = {f"item_{n}": "40" for n in range(1, 7)} | {"action": "submit"}
    response = client_for(cast.therapist).post(reverse("measures:record", args=[cast.alice.pk, ebi.pk]), data)
    assert response.status_code == 302
    ebi.refresh_from_db()
    assert (ebi.status, ebi.total, ebi.source) == (Assessment.Status.COMPLETED, 40, Assessment.Source.STAFF_ITEMS)


def test_the_staff_home_due_list_holds_it_marked_for_the_care_team(cast):
    ebi = due_assessment(cast.alice, "ebi")
    phq9 = due_assessment(cast.alice, "phq9")
    due = selectors.due_assessments_for(cast.bob)
    assert due == [ebi, phq9]
    assert [a.patient_can_answer for a in due] == [False, True]
