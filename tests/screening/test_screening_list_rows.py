"""The screening list's rows drawn in Python (screening_list_tags.screening_list_rows) say what the template's loop
said, for every decision, with and without the record-changed flag, screened or not."""

import datetime
import itertools
from pathlib import Path

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from kapstone.patients.models import Patient
from kapstone.screening.models import Decision
from kapstone.screening.templatetags.screening_list_tags import screening_list_rows
from tests.conftest import signed_in_client
from tests.parity import between_tags

OLD_ROWS = (Path(__file__).parent / "screening_list_row_template.html").read_text()
# Late in the evening in UTC: the next day in some zones, the same day in others.
SCREENED = datetime.datetime(2026, 6, 30, 23, 30, tzinfo=datetime.UTC)


def _patients() -> list[Patient]:
    patients = []
    names = [("Ann", "Lee"), ('<b>"Zed"</b> & Co', "O'Hara <script>")]
    cases = itertools.product(names, [None, *Decision.values, "an unknown decision"], [False, True])
    for number, ((given, family), decision, changed) in enumerate(cases, start=1):
        patient = Patient(pk=number, given_name=given, family_name=family)
        patient.screening_decision = decision  # type: ignore[attr-defined]
        patient.screened_at = SCREENED if decision else None  # type: ignore[attr-defined]
        patient.record_changed = changed  # type: ignore[attr-defined]
        patient.screening_overridden = number if decision == "needs_review" and changed else None  # type: ignore[attr-defined]
        patients.append(patient)
    return patients


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Los_Angeles"])
def test_the_rows_drawn_in_python_are_the_templates_rows(zone):
    patients = _patients()
    with timezone.override(zone):
        old = engines["django"].from_string(OLD_ROWS).render({"page": {"object_list": patients}})
        new = screening_list_rows(patients)
    assert between_tags(new) == between_tags(old)
    assert "Not screened" in new and "record changed since screening" in new and "&lt;script&gt;" in new
    assert 'Needs review</span> <span class="badge ok">overridden</span>' in new


@pytest.mark.django_db
def test_the_list_says_a_needs_review_screening_was_overridden(cast):
    from tests.screening import helpers

    _, result = helpers.screen(cast, helpers.needs_review_intake())
    client = signed_in_client(cast.bob)
    assert "overridden</span>" not in client.get(reverse("screening:list")).content.decode()
    client.post(reverse("screening:override", kwargs={"result_id": result.pk}), {"justification": "x" * 40})
    assert '<span class="badge ok">overridden</span>' in client.get(reverse("screening:list")).content.decode()


@pytest.mark.django_db
def test_an_empty_filter_says_there_are_no_patients(cast):
    page = signed_in_client(cast.bob).get(reverse("screening:list"), {"decision": "not_eligible"})
    assert page.status_code == 200 and "No patients." in page.content.decode()
