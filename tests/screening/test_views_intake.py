"""The staff intake form and the screening page: save, validate, re-screen and show what changed."""

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.screening.forms import LISTS, MEDICAL_QUESTIONS, PSYCHIATRIC_QUESTIONS
from kapstone.screening.models import IntakeVersion, ScreeningResult
from kapstone.screening.templatetags.screening_tags import field_label
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def intake_post(rows: dict | None = None, **fields) -> dict:
    """A complete staff intake POST: depression, no history, two failed trials, normal vitals."""
    data = {
        "assessment_date": "2026-11-02",
        "indications": ["depression"],
        "current_episode__duration_months": "18",
        "current_episode__severity": "moderate",
        "vitals__systolic": "120",
        "vitals__diastolic": "75",
        **{f"psychiatric__{name}": "no" for name in PSYCHIATRIC_QUESTIONS},
        **{f"medical__{name}": "no" for name in MEDICAL_QUESTIONS},
    }
    rows = {
        "trials": [
            {"drug": "sertraline", "weeks": "8", "adequate_dose": "on", "improvement_percent": "10"},
            {"drug": "venlafaxine", "weeks": "10", "adequate_dose": "on", "response": "no_response"},
        ],
        **(rows or {}),
    }
    for prefix, *_ in LISTS:
        entries = rows.get(prefix, [])
        data.update({f"{prefix}-TOTAL_FORMS": str(len(entries)), f"{prefix}-INITIAL_FORMS": "0"})
        for index, entry in enumerate(entries):
            data.update({f"{prefix}-{index}-{key}": value for key, value in entry.items()})
    data.update(fields)
    return data


def url(name, cast):
    return reverse(name, kwargs={"patient_id": cast.alice.pk})


def test_staff_open_an_empty_intake_form_with_every_section(cast):
    response = signed_in_client(cast.nurse).get(url("screening:intake", cast))
    assert response.status_code == 200
    for heading in ["Psychiatric history", "Medical history", "Current medications", "Antidepressant trials", "vitals"]:
        assert heading in response.text
    assert 'name="trials-5-drug"' in response.text  # six blank trial rows


def test_saving_a_complete_intake_makes_a_version_and_screens_it(cast):
    response = signed_in_client(cast.bob).post(url("screening:intake", cast), intake_post())
    assert response.status_code == 302
    version = IntakeVersion.objects.get(patient=cast.alice)
    assert version.is_complete and version.source == "staff" and version.author == cast.bob
    assert version.data["date_of_birth"] == "1980-05-17"
    assert version.data["prior_treatments"]["antidepressant_trials"][0] == {
        "drug": "sertraline",
        "weeks": 8,
        "adequate_dose": True,
        "improvement_percent": 10,
    }
    result = ScreeningResult.objects.get(patient=cast.alice)
    assert result.decision == "eligible" and result.treatment_resistant
    page = signed_in_client(cast.bob).get(response.url)
    assert "Eligible" in page.text and "Maudsley" in page.text


def test_an_unanswered_safety_question_is_shown_next_to_it_and_nothing_is_saved(cast):
    data = intake_post()
    del data["medical__pregnant"]
    response = signed_in_client(cast.bob).post(url("screening:intake", cast), data)
    assert response.status_code == 400
    assert "“Pregnant” is required: choose one." in response.text
    assert not IntakeVersion.objects.exists()


def test_the_validators_messages_land_on_the_row_they_name(cast):
    rows = {"trials": [{"drug": "sertraline", "weeks": "8", "adequate_dose": "on"}]}
    response = signed_in_client(cast.bob).post(url("screening:intake", cast), intake_post(rows))
    assert response.status_code == 400
    assert "prior_treatments.antidepressant_trials[0] needs improvement_percent or response" in response.text
    assert not IntakeVersion.objects.exists() and not ScreeningResult.objects.exists()


def test_a_partly_filled_row_asks_for_its_missing_parts(cast):
    rows = {"medications": [{"dose_mg_per_day": "20"}]}
    response = signed_in_client(cast.bob).post(url("screening:intake", cast), intake_post(rows))
    assert response.status_code == 400
    assert "Fill this in, or clear the whole row." in response.text


def test_no_indication_ticked_is_a_clear_error(cast):
    response = signed_in_client(cast.bob).post(url("screening:intake", cast), intake_post(indications=[]))
    assert response.status_code == 400
    assert "indications must have at least 1 entry" in response.text


def test_a_changed_intake_is_screened_again_and_the_page_says_what_moved_and_why(cast):
    client = signed_in_client(cast.bob)
    client.post(url("screening:intake", cast), intake_post())
    response = client.post(
        url("screening:intake", cast),
        intake_post(
            psychiatric__bipolar_disorder="yes",
            rows={
                "trials": [
                    {"drug": "sertraline", "weeks": "8", "adequate_dose": "on", "improvement_percent": "10"},
                    {"drug": "venlafaxine", "weeks": "10", "adequate_dose": "on", "response": "no_response"},
                ],
                "medications": [{"name": "lithium", "dose_mg_per_day": "900"}],
            },
        ),
    )
    assert response.status_code == 302
    latest = ScreeningResult.objects.filter(patient=cast.alice).first()
    assert latest.decision == "needs_review"
    assert latest.changes["decision_before"] == "eligible"
    assert [r["rule"] for r in latest.changes["reasons_added"]] == ["bipolar_disorder"]
    assert {c["field"] for c in latest.changes["fields"]} == {"psychiatric.bipolar_disorder", "medications"}
    page = client.get(url("screening:patient", cast)).text
    assert "The decision moved from" in page and "now applies" in page
    assert "Psychiatric: Bipolar disorder" in page and "lithium" in page
    assert "psychiatric.bipolar_disorder" not in page
    assert IntakeVersion.objects.filter(patient=cast.alice).count() == 2


def test_the_reasons_read_in_words_without_their_rule_or_outcome_codes(cast):
    client = signed_in_client(cast.bob)
    client.post(url("screening:intake", cast), intake_post())
    client.post(url("screening:intake", cast), intake_post(psychiatric__bipolar_disorder="yes"))
    page = client.get(url("screening:patient", cast)).text
    assert "now applies" in page and "(needs review)" in page
    assert "(bipolar_disorder" not in page and "needs_review)" not in page


def test_screening_again_without_an_intake_is_refused_politely(cast):
    response = signed_in_client(cast.bob).post(url("screening:rescreen", cast), follow=True)
    assert "There is no complete intake to screen yet" in response.text


def test_the_intake_form_starts_from_the_last_version(cast):
    client = signed_in_client(cast.bob)
    client.post(url("screening:intake", cast), intake_post(rows={"medications": [{"name": "bupropion"}]}))
    response = client.get(url("screening:intake", cast))
    assert 'value="bupropion"' in response.text
    assert "Starting from intake v1" in response.text


def test_the_intake_form_starts_from_the_newest_complete_version_with_a_newer_draft_laid_over_it(cast):
    """Whichever order the versions were written in, and whatever another patient holds."""
    client = signed_in_client(cast.bob)

    def version(patient, number: int, medicine: str, *, complete: bool) -> None:
        IntakeVersion.objects.create(
            patient=patient,
            number=number,
            data={"medications": [{"name": medicine}], "indications": ["depression"]},
            source=IntakeVersion.Source.STAFF if complete else IntakeVersion.Source.PATIENT,
            is_complete=complete,
        )

    version(cast.alice, 2, "newer-complete", complete=True)
    version(cast.alice, 1, "older-complete", complete=True)
    version(cast.dana, 9, "someone-else", complete=True)
    response = client.get(url("screening:intake", cast))
    assert 'value="newer-complete"' in response.text and "Starting from intake v2" in response.text
    version(cast.alice, 4, "draft-medicine", complete=False)
    version(cast.alice, 3, "older-draft", complete=False)
    response = client.get(url("screening:intake", cast))
    assert 'value="draft-medicine"' in response.text and "Starting from intake v4" in response.text
    assert "someone-else" not in response.text and "older" not in response.text


def test_a_new_intake_is_dated_today_and_asks_for_a_fresh_blood_pressure(cast):
    client = signed_in_client(cast.bob)
    client.post(url("screening:intake", cast), intake_post(vitals__systolic="131"))
    form = client.get(url("screening:intake", cast)).context["main"]
    assert form["assessment_date"].value() == timezone.localdate()
    assert form["vitals__systolic"].value() is None
    assert form["indications"].value() == ["depression"]


def test_an_outsider_clinician_cannot_open_or_save_alices_intake(cast):
    client = signed_in_client(cast.charlie)
    assert client.get(url("screening:intake", cast)).status_code == 404
    assert client.post(url("screening:intake", cast), intake_post()).status_code == 404
    assert not IntakeVersion.objects.exists()


@pytest.mark.parametrize(
    "path, label",
    [
        ("psychiatric.bipolar_disorder", "Psychiatric: Bipolar disorder"),
        ("medical.pregnant", "Medical: Pregnant"),
        ("vitals.systolic", "Vitals: systolic"),
        ("date_of_birth", "Date of birth"),
    ],
)
def test_a_changed_intake_field_is_named_in_words(path, label):
    assert field_label(path) == label
