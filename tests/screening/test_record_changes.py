"""The patient record against the screened intake: the notice on the screening page, the new intake started from
the record, the re-screen it leads to, and the flag on the screening list."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from kapstone.audit.models import AuditEvent
from kapstone.patients import services as patients
from kapstone.patients.models import Patient
from kapstone.screening.changes import record_differences, record_medication_entry, with_record_medications
from kapstone.screening.models import IntakeVersion, ScreeningResult
from tests.conftest import make_patient, signed_in_client
from tests.screening.test_views_intake import intake_post

BORN = datetime.date(1980, 5, 17)
SERTRALINE = {"name": "sertraline", "dose_mg_per_day": 100}


class _Medication:
    """Stands in for patients.Medication in the pure functions: a name, a dose and a frequency."""

    def __init__(self, name: str, dose: str, frequency: str):
        self.name, self.dose, self.frequency = name, dose, frequency

    def __str__(self) -> str:
        return f"{self.name} {self.dose} {self.frequency}".strip()


def differences(medications, intake_medications, born=BORN):
    intake = {"date_of_birth": BORN.isoformat(), "medications": intake_medications}
    return record_differences(medications=medications, date_of_birth=born, intake=intake)


# --- the comparison ----------------------------------------------------------------------------------------------


def test_a_record_that_matches_the_intake_shows_no_difference():
    assert differences([_Medication("Sertraline", "100 mg", "once daily")], [SERTRALINE]) == []


def test_an_maoi_on_the_record_but_not_in_the_intake_is_named_with_its_daily_dose():
    record = [
        _Medication("sertraline", "100 mg", "once daily"),
        _Medication("phenelzine", "15 mg", "three times daily"),
    ]
    assert differences(record, [SERTRALINE]) == ["On the record but not in the intake: phenelzine 45 mg/day."]


def test_a_medication_stopped_on_the_record_and_a_changed_dose_are_both_named():
    record = [_Medication("sertraline", "75 mg", "twice daily")]
    intake = [SERTRALINE, {"name": "clonazepam", "dose_mg_per_day": 1}]
    assert differences(record, intake) == [
        "In the intake but not on the record: clonazepam 1 mg/day.",
        "Dose differs: sertraline 150 mg/day on the record, 100 mg/day in the intake.",
    ]


def test_a_record_dose_with_no_fixed_daily_amount_is_compared_by_name_only():
    record = [_Medication("lorazepam", "1 mg", "as needed"), _Medication("levothyroxine", "75 mcg", "once daily")]
    intake = [{"name": "lorazepam", "dose_mg_per_day": 2}, {"name": "levothyroxine"}]
    assert differences(record, intake) == []
    assert differences(record[:1], []) == ["On the record but not in the intake: lorazepam 1 mg as needed."]


def test_a_different_date_of_birth_is_named_and_an_intake_that_gave_an_age_is_not_compared():
    assert differences([], [], born=datetime.date(1981, 5, 17)) == [
        "Date of birth differs: 17 May 1981 on the record, 17 May 1980 in the intake."
    ]
    assert record_differences(medications=[], date_of_birth=BORN, intake={"age": 40, "medications": []}) == []


def test_the_record_medications_replace_the_intakes_keeping_a_dose_the_record_does_not_give_per_day():
    intake = {"indications": ["depression"], "medications": [{"name": "lorazepam", "dose_mg_per_day": 2}, SERTRALINE]}
    record = [_Medication("lorazepam", "1 mg", "as needed"), _Medication("phenelzine", "15 mg", "three times daily")]
    assert with_record_medications(intake, record) == {
        "indications": ["depression"],
        "medications": [{"name": "lorazepam", "dose_mg_per_day": 2}, {"name": "phenelzine", "dose_mg_per_day": 45}],
    }
    assert record_medication_entry(_Medication("clonazepam", "0.5 mg", "Twice  daily")) == {
        "name": "clonazepam",
        "dose_mg_per_day": 1,
    }


# --- the screening page and the new intake -----------------------------------------------------------------------


def patient_url(name: str, patient, **query) -> str:
    url = reverse(name, kwargs={"patient_id": patient.pk})
    return f"{url}?{urlencode(query)}" if query else url


def add_to_record(cast, name: str, dose: str, frequency: str = "once daily", patient=None):
    return patients.record_part_add(
        actor=cast.bob,
        patient=patient or cast.alice,
        kind="medication",
        fields={"name": name, "dose": dose, "frequency": frequency},
    )


def screened_on_sertraline(cast, patient=None):
    """The patient's record and their intake both list sertraline 100 mg a day; the intake is saved and screened."""
    patient = patient or cast.alice
    add_to_record(cast, "sertraline", "100 mg", patient=patient)
    post = intake_post(rows={"medications": [{"name": "sertraline", "dose_mg_per_day": "100"}]})
    assert signed_in_client(cast.bob).post(patient_url("screening:intake", patient), post).status_code == 302


def as_posted(form_page) -> dict:
    """What the browser sends for the intake form exactly as it was shown, every answer left as it was."""
    editor = form_page.context["editor"]
    forms = [editor.main]
    for formset in editor.formsets.values():
        forms += [formset.management_form, *formset]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is True:
                data[field.html_name] = "on"
            elif value is not False and value not in (None, "", []):  # an unticked box is not sent; 0 is
                data[field.html_name] = value
    return data


def test_the_screening_page_shows_no_notice_when_the_record_matches_the_intake(cast):
    screened_on_sertraline(cast)
    page = signed_in_client(cast.nurse).get(patient_url("screening:patient", cast.alice))
    assert page.status_code == 200
    assert "record changed since this screening" not in page.text
    assert "?from=record" not in page.text


def test_an_maoi_added_to_the_record_shows_a_notice_and_does_not_screen_again_by_itself(cast):
    screened_on_sertraline(cast)
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    page = signed_in_client(cast.nurse).get(patient_url("screening:patient", cast.alice))
    assert "The patient record changed since this screening" in page.text
    assert "On the record but not in the intake: phenelzine 45 mg/day." in page.text
    assert f'href="{patient_url("screening:intake", cast.alice, **{"from": "record"})}"' in page.text
    assert ScreeningResult.objects.filter(patient=cast.alice).count() == 1


def test_a_date_of_birth_corrected_on_the_record_shows_in_the_notice(cast):
    screened_on_sertraline(cast)
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=datetime.date(1980, 7, 1))
    page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast.alice))
    assert "Date of birth differs: 1 Jul 1980 on the record, 17 May 1980 in the intake." in page.text


def test_the_new_intake_from_the_record_is_prefilled_with_the_record_medications(cast):
    screened_on_sertraline(cast)
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    page = signed_in_client(cast.bob).get(patient_url("screening:intake", cast.alice, **{"from": "record"}))
    assert page.status_code == 200
    assert page.context["editor"].formsets["medications"].initial == [
        {"name": "phenelzine", "dose_mg_per_day": 45},
        SERTRALINE,
    ]
    assert 'value="phenelzine"' in page.text
    assert "Current medications are taken from the patient record" in page.text
    assert "On the record but not in the intake: phenelzine 45 mg/day." in page.text
    assert IntakeVersion.objects.filter(patient=cast.alice).count() == 1
    views = [event.detail_data.get("view") for event in AuditEvent.objects.filter(patient_id=cast.alice.pk)]
    assert "intake from record" in views


def test_saving_the_new_intake_screens_again_and_the_changes_name_the_maoi(cast):
    screened_on_sertraline(cast)
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=datetime.date(1980, 7, 1))
    client = signed_in_client(cast.bob)
    form_url = patient_url("screening:intake", cast.alice, **{"from": "record"})
    # The form starts from the record's medications; the clinician takes a fresh blood pressure.
    posted = {**as_posted(client.get(form_url)), "vitals__systolic": "122", "vitals__diastolic": "78"}
    saved = client.post(form_url, posted)
    assert saved.status_code == 302, saved.context["editor"].problems
    result = ScreeningResult.objects.filter(patient=cast.alice).first()
    assert result.intake_version.number == 2
    assert result.intake_version.data["date_of_birth"] == "1980-07-01"
    assert [reason["rule"] for reason in result.changes["reasons_added"]] == ["maoi"]
    assert "medications" in [change["field"] for change in result.changes["fields"]]
    page = client.get(saved.url)
    assert "now applies" in page.text and "Taking an MAO inhibitor (phenelzine)" in page.text
    assert "The patient record changed since this screening" not in page.text


def test_any_other_from_value_opens_the_plain_intake_form(cast):
    screened_on_sertraline(cast)
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    page = signed_in_client(cast.bob).get(patient_url("screening:intake", cast.alice, **{"from": "<script>"}))
    assert page.status_code == 200
    assert page.context["editor"].formsets["medications"].initial == [SERTRALINE]
    assert "taken from the patient record" not in page.text


def test_staff_outside_the_care_team_cannot_start_an_intake_from_alices_record(cast):
    screened_on_sertraline(cast)
    response = signed_in_client(cast.charlie).get(patient_url("screening:intake", cast.alice, **{"from": "record"}))
    assert response.status_code == 404


# --- the screening list ------------------------------------------------------------------------------------------


FLAG = "record changed since screening"


def list_row(page, patient) -> str:
    """The table row of the screening list that links to the patient."""
    link = reverse("screening:patient", kwargs={"patient_id": patient.pk})
    start = page.text.index(f'href="{link}"')
    return page.text[start : page.text.index("</tr>", start)]


def test_the_screening_list_flags_a_patient_whose_record_medications_changed_since_screening(cast):
    other = make_patient("Erin", "Ellis", team=[cast.bob])
    screened_on_sertraline(cast)
    screened_on_sertraline(cast, other)
    client = signed_in_client(cast.bob)
    assert FLAG not in client.get(reverse("screening:list")).text
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    page = client.get(reverse("screening:list"))
    assert FLAG in list_row(page, cast.alice)
    assert FLAG not in list_row(page, other)


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_screening_list_with_the_flag_runs_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.bob)
    url = reverse("screening:list")
    screened_on_sertraline(cast)
    add_to_record(cast, "phenelzine", "15 mg", "three times daily")
    few = _count_queries(client, url)
    for index in range(6):
        patient = make_patient(f"Extra{index}", "Screened", team=[cast.bob])
        screened_on_sertraline(cast, patient)
        add_to_record(cast, "lorazepam", "1 mg", "as needed", patient=patient)
    page = client.get(url)
    assert page.text.count(FLAG) == 7
    assert _count_queries(client, url) == few
