"""Entered totals: dates inside bounds that fit a questionnaire, pages that render whatever the database holds,
and a total that can be corrected or voided, audited with the reason."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.measures import selectors, services
from kapstone.measures.models import Assessment
from kapstone.outcomes.services import research_export_zip
from tests.conftest import signed_in_client
from tests.measures.factories import PHQ9_MILD, due_assessment

ANCIENT = datetime.datetime(1, 1, 1, 12, tzinfo=datetime.UTC)


def stored_directly(patient, *, instrument_id="bdi-ii", total=20, at=ANCIENT, occasion="baseline") -> Assessment:
    """As a row that got past the checks (an old version, a raw import) would sit in the database."""
    return Assessment.objects.create(
        patient=patient,
        instrument_id=instrument_id,
        occasion=occasion,
        due_at=at,
        completed_at=at,
        status=Assessment.Status.COMPLETED,
        source=Assessment.Source.STAFF_TOTAL,
        total=total,
    )


@pytest.fixture
def ancient_total(cast):
    services.assessment_record_total(
        actor=cast.bob,
        patient=cast.alice,
        instrument_id="bdi-ii",
        total=18,
        completed_on=timezone.localdate(),
        items={9: 0},
    )
    return stored_directly(cast.alice)


def test_every_page_that_shows_an_out_of_range_date_renders(cast, ancient_total):
    staff = signed_in_client(cast.bob)
    for name in ("measures:patient", "creativity:patient", "patients:detail"):
        assert staff.get(reverse(name, args=[cast.alice.pk])).status_code == 200, name
    portal = signed_in_client(cast.alice_user)
    assert portal.get(reverse("portal:history")).status_code == 200
    assert portal.get(reverse("portal:home")).status_code == 200


def test_the_research_export_holds_an_out_of_range_date(cast, ancient_total):
    content, _ = research_export_zip(actor_label="admin")
    assert content


def test_the_outcomes_report_and_the_fhir_export_hold_an_out_of_range_date(cast, ancient_total, tmp_path):
    admin = signed_in_client(cast.admin)
    assert admin.get(reverse("outcomes:report")).status_code == 200
    assert admin.get(reverse("outcomes:report_pdf")).status_code == 200
    out = tmp_path / "bundle.json"
    call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(out), stdout=io.StringIO())
    assert out.exists()


def enter(cast, total=20, day=None):
    return services.assessment_record_total(
        actor=cast.bob,
        patient=cast.alice,
        instrument_id="bdi-ii",
        total=total,
        completed_on=day or timezone.localdate(),
        items={9: 0},
    )


def post_total(cast, day: str):
    return signed_in_client(cast.bob).post(
        reverse("measures:enter_total", args=[cast.alice.pk]),
        {"total-instrument": "bdi-ii", "total-total": "20", "total-item_bdi_ii_9": "0", "total-completed_on": day},
    )


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_a_date_outside_the_bounds_is_refused_with_a_message(cast, day):
    response = post_total(cast, day)
    assert response.status_code == 400
    assert "The date cannot be" in response.content.decode()
    assert not Assessment.objects.exists()


def test_the_service_refuses_an_out_of_range_date_from_any_caller(cast):
    with pytest.raises(services.EnteredTotalError, match="before 01 January 1900"):
        enter(cast, day=datetime.date(1, 1, 1))


def amend(cast, assessment, **data):
    prefix = f"amend-{assessment.pk}"
    return signed_in_client(cast.bob).post(
        reverse("measures:amend_total", args=[cast.alice.pk, assessment.pk]),
        {f"{prefix}-{key}": value for key, value in data.items()},
    )


def test_a_total_is_corrected_rescored_and_audited_with_the_reason(cast):
    entered = enter(cast, total=40)
    response = amend(cast, entered, action="correct", total="12", completed_on="2024-03-05", reason="typo: 12 not 40")
    assert response.status_code == 302
    entered.refresh_from_db()
    assert entered.total == 12 and entered.completed_at.date() == datetime.date(2024, 3, 5)
    assert entered.severity != "" and entered.amendment_reason == "typo: 12 not 40"
    event = AuditEvent.objects.filter(object_type="assessment.entered_total").get()
    assert event.detail_data["before"]["total"] == 40 and event.detail_data["after"]["total"] == 12
    assert event.detail_data["reason"] == "typo: 12 not 40"


def test_a_voided_total_leaves_the_chart_and_stays_on_record(cast):
    keep, wrong = enter(cast, total=30), enter(cast, total=5)
    assert amend(cast, wrong, action="void", reason="entered for the wrong patient").status_code == 302
    wrong.refresh_from_db()
    assert wrong.status == Assessment.Status.VOIDED
    trajectories = selectors.patient_measures(patient=cast.alice)["trajectories"]
    assert [point.pk for t in trajectories for point in t.points] == [keep.pk]
    page = signed_in_client(cast.bob).get(reverse("measures:patient", args=[cast.alice.pk])).content.decode()
    assert "voided" in page and "entered for the wrong patient" in page
    assert AuditEvent.objects.filter(object_type="assessment.entered_total", detail__contains="voided").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "void", "reason": ""}, "“Reason” is required: fill it in."),
        ({"action": "void", "reason": "x" * 501}, "at most 500 characters"),
        ({"action": "correct", "total": "999", "completed_on": "2024-01-01", "reason": "r"}, "between 0 and 63"),
        ({"action": "correct", "total": "5", "completed_on": "0001-01-01", "reason": "r"}, "cannot be before"),
        ({"action": "bogus", "reason": "r"}, "Select a valid choice"),
    ],
)
def test_a_bad_correction_is_refused_with_a_message_and_changes_nothing(cast, data, message):
    entered = enter(cast, total=20)
    response = amend(cast, entered, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    entered.refresh_from_db()
    assert entered.total == 20 and entered.status == Assessment.Status.COMPLETED


def test_a_voided_total_cannot_be_changed_again(cast):
    entered = enter(cast)
    services.entered_total_void(actor=cast.bob, assessment=entered, reason="mistake")
    with pytest.raises(services.EnteredTotalError, match="already been voided"):
        services.entered_total_void(actor=cast.bob, assessment=entered, reason="again")


def test_a_questionnaire_the_patient_answered_cannot_be_amended_here(cast):
    answered = stored_directly(cast.alice, instrument_id="phq9", at=timezone.now())
    Assessment.objects.filter(pk=answered.pk).update(source=Assessment.Source.PATIENT)
    response = amend(cast, answered, action="void", reason="r")
    assert response.status_code == 404


def _page(client, patient) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("measures:patient", args=[patient.pk]))
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_the_measures_page_reads_the_same_however_many_questionnaires_and_entered_totals(cast):
    """Every questionnaire the page writes comes from one read with the names of who entered and amended it: a
    column or an account read row by row would add queries as the record grows."""
    client = signed_in_client(cast.bob)
    # Two totals already, so the page reads its change rules before as after.
    enter(cast, total=30, day=timezone.localdate() - datetime.timedelta(days=20))
    enter(cast, total=25, day=timezone.localdate() - datetime.timedelta(days=10))
    _page(client, cast.alice)
    _, before = _page(client, cast.alice)
    oldest = enter(cast, total=12, day=timezone.localdate() - datetime.timedelta(days=40))
    newest, voided = enter(cast, total=7), enter(cast, total=5, day=timezone.localdate() - datetime.timedelta(days=2))
    services.entered_total_correct(
        actor=cast.bob, assessment=oldest, total=14, completed_on=oldest.completed_at.date(), reason="typo"
    )
    services.entered_total_void(actor=cast.bob, assessment=voided, reason="wrong patient")
    for days in (1, 2, 3):
        due_assessment(cast.alice, "gad7", occasion=f"follow_up_{days}", due_in_days=-days)
    services.assessment_save_answers(actor=None, assessment=due_assessment(cast.alice), answers=PHQ9_MILD, submit=True)
    page, after = _page(client, cast.alice)
    assert after == before
    # Newest first, the voided total among them, and who amended each named.
    entered = page[page.index('id="entered-h"') :]
    assert entered.index(f"amend-{newest.pk}-") < entered.index("wrong patient") < entered.index("typo")
    assert str(cast.bob) in entered
