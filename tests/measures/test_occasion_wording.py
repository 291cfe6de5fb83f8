"""Staff and patients read a questionnaire's occasion in plain words, never a stored code."""

from django.urls import reverse

from kapstone.measures import services
from kapstone.measures.models import Assessment


def test_an_extra_questionnaire_reads_as_an_extra_check_in_on_every_page(cast, client_for):
    services.assessment_create(actor=cast.bob, patient=cast.alice, instrument_id="phq9")
    staff = client_for(cast.bob)
    for page in [
        staff.get(reverse("home:home")).content.decode(),
        staff.get(reverse("measures:patient", args=[cast.alice.pk])).content.decode(),
    ]:
        assert "PHQ-9 Extra check-in" in page or "<td>Extra check-in</td>" in page
        assert "Unscheduled" not in page
    portal = client_for(cast.alice_user).get(reverse("portal:home")).content.decode()
    assert "PHQ-9 · check-in" in portal and "Unscheduled" not in portal


def test_a_course_occasion_stored_without_its_label_never_shows_its_code(cast, client_for):
    Assessment.objects.create(
        patient=cast.alice,
        instrument_id="phq9",
        occasion="pre_dosing_2",
        occasion_label="pre_dosing_2",
        due_at=cast.alice.created_at,
    )
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "Pre dosing 2" in page
    assert "pre_dosing_2" not in page


def test_the_total_entry_form_offers_an_extra_check_in_not_unscheduled(cast, client_for):
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "Extra check-in (not on the course plan)" in page
    assert "Unscheduled" not in page
