"""The C-SSRS screener has no total, only a triage level: the measures page, which charts totals, lists its results in
words (as the timelines say them) instead of leaving them out."""

from django.urls import reverse
from django.utils import timezone

from kapstone.measures.models import Assessment
from tests.measures.factories import due_assessment


def _cssrs_completed(patient, risk, *, critical=False):
    done = due_assessment(patient, "cssrs-screener", occasion="pre_dosing_2")
    Assessment.objects.filter(pk=done.pk).update(
        status=Assessment.Status.COMPLETED,
        completed_at=timezone.now(),
        total=None,
        result={"risk": risk},
        critical=critical,
    )


def test_the_care_team_reads_each_screen_as_its_triage_level_with_a_critical_one_marked(cast, client_for):
    _cssrs_completed(cast.alice, "none")
    _cssrs_completed(cast.alice, "moderate", critical=True)
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "C-SSRS Screener" in page and "Scored as a triage level, not a total" in page
    assert "<td>No risk flagged: no question answered yes</td>" in page and "<td>Moderate risk</td>" in page
    # Answered in the portal (no one on staff entered it): said so, not as a bare "patient".
    assert '<td class="hide-narrow">The patient, in the portal</td>' in page
    assert page.count('<span class="badge danger">critical item</span>') == 1
    assert "No completed questionnaires yet" not in page


def test_a_patient_with_no_result_is_told_where_results_come_from(cast, client_for):
    page = client_for(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "No completed questionnaires yet: results appear here once the patient completes one" in page
    assert "or once you fill one in with them below" in page


def test_outside_the_care_team_the_page_is_not_found(cast, client_for):
    _cssrs_completed(cast.alice, "high", critical=True)
    assert client_for(cast.charlie).get(reverse("measures:patient", args=[cast.alice.pk])).status_code == 404
