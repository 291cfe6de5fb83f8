import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.patients.models import CareTeamMembership, Patient
from kapstone.patients.selectors import patients_visible_to
from tests.conftest import make_patient

VALID = {
    "given_name": "Robin",
    "family_name": "Quiroga",
    "date_of_birth": "1979-03-02",
    "sex": "female",
    "gender_identity": "woman",
    "pronouns": "she/her",
    "email": "robin@mail.example",
    "phone": "555-0199",
    "emergency_contact_name": "Sam Quiroga",
    "emergency_contact_relationship": "partner",
    "emergency_contact_phone": "555-0198",
}


def test_clinicians_see_only_their_care_team_and_admins_see_all(cast):
    assert set(patients_visible_to(cast.bob)) == {cast.alice}
    assert set(patients_visible_to(cast.charlie)) == {cast.dana}
    assert set(patients_visible_to(cast.admin)) == {cast.alice, cast.dana}
    assert not patients_visible_to(cast.researcher).exists()
    assert not patients_visible_to(cast.alice_user).exists()


def test_a_clinician_registers_a_patient_and_joins_their_care_team(cast, client_for):
    response = client_for(cast.bob).post(reverse("patients:create"), VALID)
    patient = Patient.objects.get(family_name="Quiroga")
    assert response.url == reverse("patients:detail", args=[patient.pk])
    assert CareTeamMembership.objects.filter(patient=patient, staff=cast.bob, is_lead=True).exists()
    assert AuditEvent.objects.filter(patient_id=patient.pk, action="create", object_type="patient").exists()
    assert patient.record_number == f"KP-{patient.pk:06d}"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("date_of_birth", "2999-01-01", "in the future"),
        ("date_of_birth", "not a date", "Enter a valid date"),
        ("date_of_birth", "1850-01-01", "before 1900"),
        ("email", "nope", "valid email"),
        ("given_name", "", "required"),
        ("emergency_contact_phone", "", "phone number for the emergency contact"),
    ],
)
def test_bad_registration_input_is_explained_and_nothing_is_saved(cast, client_for, field, value, message):
    response = client_for(cast.bob).post(reverse("patients:create"), {**VALID, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Patient.objects.filter(family_name="Quiroga").exists()


def test_editing_a_record_audits_the_changed_fields_not_their_values(cast, client_for):
    data = {**VALID, "given_name": "Alicia", "family_name": "Abernathy"}
    client_for(cast.nurse).post(reverse("patients:edit", args=[cast.alice.pk]), data)
    cast.alice.refresh_from_db()
    assert cast.alice.given_name == "Alicia"
    event = AuditEvent.objects.filter(patient_id=cast.alice.pk, action="update", object_type="patient").last()
    assert "given_name" in event.detail_data["changed"] and "Alicia" not in event.detail


def test_search_finds_by_name_and_record_number(cast, client_for):
    client = client_for(cast.admin)
    assert "Abernathy" in client.get(reverse("patients:list"), {"q": "aber"}).content.decode()
    by_number = client.get(reverse("patients:list"), {"q": cast.dana.record_number}).content.decode()
    assert "Delacroix" in by_number and "Abernathy" not in by_number


def test_search_never_shows_another_care_teams_patients(cast, client_for):
    assert "Delacroix" not in client_for(cast.bob).get(reverse("patients:list"), {"q": "Dana"}).content.decode()


@pytest.mark.parametrize("query", ["'; DROP TABLE x;--", "%", "KP-99999999999", "a" * 300, "ü∂ 😀"])
def test_odd_searches_answer_calmly(cast, client_for, query):
    assert client_for(cast.admin).get(reverse("patients:list"), {"q": query, "page": "x"}).status_code == 200


def test_the_record_and_registration_buttons_say_what_they_add_or_save(cast, client_for):
    client = client_for(cast.bob)
    page = client.get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    for adding in ("Add a diagnosis", "Add a medication", "Add an outside clinician"):
        assert f"<summary>{adding}</summary>" in page and f'<button type="submit">{adding}</button>' in page
    assert "<summary>Add</summary>" not in page
    assert page.count("No diagnosis recorded.") + page.count("No current medication recorded.") >= 1
    assert ">Register the patient</button>" in client.get(reverse("patients:create")).content.decode()
    edit = client.get(reverse("patients:edit", args=[cast.alice.pk])).content.decode()
    assert ">Save the record</button>" in edit


def test_diagnoses_must_be_icd10cm_codes(cast, client_for):
    url = reverse("patients:part_add", args=[cast.alice.pk, "diagnosis"])
    bad = client_for(cast.bob).post(url, {"diagnosis-icd10_code": "dep", "diagnosis-description": "x"})
    assert bad.status_code == 400 and "not an ICD-10-CM code" in bad.content.decode()
    good = client_for(cast.bob).post(url, {"diagnosis-icd10_code": "f41.1", "diagnosis-description": "GAD"})
    assert good.status_code == 302
    assert cast.alice.diagnoses.filter(icd10_code="F41.1").exists()


def test_a_new_primary_diagnosis_replaces_the_old_primary(cast, client_for):
    url = reverse("patients:part_add", args=[cast.alice.pk, "diagnosis"])
    client_for(cast.bob).post(
        url, {"diagnosis-icd10_code": "F43.12", "diagnosis-description": "PTSD", "diagnosis-is_primary": "on"}
    )
    assert list(cast.alice.diagnoses.filter(is_primary=True).values_list("icd10_code", flat=True)) == ["F43.12"]


def test_outside_clinicians_need_a_way_to_be_reached(cast, client_for):
    url = reverse("patients:part_add", args=[cast.alice.pk, "external_clinician"])
    response = client_for(cast.bob).post(
        url, {"external_clinician-kind": "psychiatrist", "external_clinician-name": "Dr. Outside"}
    )
    assert response.status_code == 400 and "phone number or an email" in response.content.decode()


def test_removing_another_patients_item_is_not_found(cast, client_for):
    dana_diagnosis = cast.dana.diagnoses.first()
    url = reverse("patients:part_remove", args=[cast.alice.pk, "diagnosis", dana_diagnosis.pk])
    assert client_for(cast.bob).post(url).status_code == 404
    assert cast.dana.diagnoses.filter(pk=dana_diagnosis.pk).exists()


def test_an_unknown_record_part_is_not_found(cast, client_for):
    assert client_for(cast.bob).post(f"/patients/{cast.alice.pk}/secrets/add/").status_code == 404


def test_care_team_changes_decide_who_sees_the_record(cast, client_for):
    client_for(cast.admin).post(
        reverse("patients:care_team", args=[cast.alice.pk]), {"staff": [cast.charlie.pk], "lead": cast.charlie.pk}
    )
    assert client_for(cast.charlie).get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
    assert client_for(cast.bob).get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 404


def test_the_care_team_page_ticks_the_team_as_it_now_stands(cast, client_for):
    client = client_for(cast.admin)
    url = reverse("patients:care_team", args=[cast.alice.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"staff": [cast.charlie.pk, cast.nurse.pk], "lead": cast.nurse.pk})
    page = client.get(url).content.decode()
    ticked = re.findall(r'<input type="checkbox" name="staff" value="(\d+)"[^>]* checked>', page)
    assert sorted(ticked) == sorted([str(cast.charlie.pk), str(cast.nurse.pk)])
    assert f'<option value="{cast.nurse.pk}" selected>' in page


def test_the_care_team_page_offers_the_clinicians_active_now(cast, client_for):
    client = client_for(cast.admin)
    url = reverse("patients:care_team", args=[cast.alice.pk])
    assert client.get(url).content.decode().count(f'value="{cast.charlie.pk}"') == 2
    cast.charlie.is_active = False
    cast.charlie.save()
    assert f'value="{cast.charlie.pk}"' not in client.get(url).content.decode()


def test_the_lead_must_be_on_the_care_team(cast, client_for):
    response = client_for(cast.admin).post(
        reverse("patients:care_team", args=[cast.alice.pk]), {"staff": [cast.bob.pk], "lead": cast.charlie.pk}
    )
    assert "must be on the care team" in response.content.decode()


def test_admins_read_a_patients_audit_trail(cast, client_for):
    client_for(cast.bob).get(reverse("patients:detail", args=[cast.alice.pk]))
    page = client_for(cast.admin).get(reverse("patients:audit", args=[cast.alice.pk])).content.decode()
    assert "bob" in page and "<td>Viewed</td>" in page
    # A way back to the record it belongs to, and its times in the words the rest of the product writes them.
    assert f'<a href="{reverse("patients:detail", args=[cast.alice.pk])}">← {cast.alice.full_name}</a>' in page
    assert not re.search(r"<td>\d{4}-\d\d-\d\d", page)


def _queries_for(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url_name", ["patients:list", "home:home"])
def test_list_pages_use_the_same_number_of_queries_however_many_patients(cast, client_for, url_name):
    client = client_for(cast.bob)
    url = reverse(url_name)
    _queries_for(client, url)
    before = _queries_for(client, url)
    for i in range(30):
        make_patient(f"Extra{i}", "Many", team=[cast.bob, cast.nurse])
    assert _queries_for(client, url) == before


def test_a_searched_patient_list_uses_the_same_number_of_queries_however_many_patients_match(cast, client_for):
    client = client_for(cast.bob)
    url = f"{reverse('patients:list')}?q=Extra+Many"
    make_patient("Extra", "Many", team=[cast.bob, cast.nurse])
    _queries_for(client, url)
    before = _queries_for(client, url)
    for i in range(30):
        make_patient(f"Extra{i}", "Many", team=[cast.bob, cast.nurse])
    page = client.get(url).content.decode()
    assert "Extra0" in page and "Abernathy" not in page
    assert _queries_for(client, url) == before


def test_the_next_page_link_of_a_searched_list_keeps_the_search(cast, client_for):
    for i in range(30):
        make_patient(f"Extra{i:02d}", "Many", team=[cast.bob])
    page = client_for(cast.bob).get(reverse("patients:list"), {"q": "Many & co", "page": 1}).content.decode()
    assert "Page 1 of" not in page  # "Many & co" matches no one: one page, no links
    page = client_for(cast.bob).get(reverse("patients:list"), {"q": "Many"}).content.decode()
    assert 'href="?q=Many&amp;page=2"' in page and "Page 1 of 2" in page


def test_a_patients_page_uses_the_same_number_of_queries_however_full_the_record(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("patients:detail", args=[cast.alice.pk])
    _queries_for(client, url)
    before = _queries_for(client, url)
    for i in range(10):
        cast.alice.medications.create(name=f"drug{i}", dose="1 mg")
        cast.alice.diagnoses.create(icd10_code="F41.1", description="GAD", noted_on=datetime.date(2020, 1, 1))
    assert _queries_for(client, url) == before


def _page_reads(client, url) -> list[str]:
    """The page's own reads: what it asks of the database besides the session and the audit trail's write."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith(("SELECT", "DECLARE"))
        and "django_session" not in query["sql"]
        and "audit_" not in query["sql"]
    ]


def test_the_record_page_reads_the_record_and_its_four_lists_once_each(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("patients:detail", args=[cast.alice.pk])
    _page_reads(client, url)
    reads = _page_reads(client, url)
    # The signed-in user and their second factor, the patient with their portal login (Alice has one) and who
    # recorded their childbearing potential, then diagnoses, medications, outside team and care team.
    assert len(reads) == 7, reads
    for i in range(3):
        make_patient(f"Extra{i}", "Many", team=[cast.bob, cast.nurse])
    assert len(_page_reads(client, url)) == 7
    cast.alice.childbearing_potential, cast.alice.childbearing_recorded_by = "no", cast.nurse
    cast.alice.childbearing_recorded_at = datetime.datetime(2024, 5, 6, 12, tzinfo=datetime.UTC)
    cast.alice.save()
    assert len(_page_reads(client, url)) == 7
    assert f"recorded by {cast.nurse.display_name} on 6 May 2024" in client.get(url).content.decode()


def test_each_record_page_lists_its_own_patients_parts_in_order(cast, client_for):
    client = client_for(cast.bob)
    other = make_patient("Other", "Person", team=[cast.bob])
    other.medications.create(name="Sertraline", dose="50 mg")
    cast.alice.medications.create(name="Bupropion", dose="150 mg")
    cast.alice.medications.create(name="Amlodipine", dose="5 mg")
    alices = client.get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    others = client.get(reverse("patients:detail", args=[other.pk])).content.decode()
    assert "Sertraline" not in alices and "Bupropion" not in others and "Sertraline 50 mg" in others
    assert alices.index("Amlodipine") < alices.index("Bupropion")  # the medications' own order, by name


def test_the_edit_page_shows_the_record_as_it_now_stands(cast, client_for):
    client = client_for(cast.nurse)
    url = reverse("patients:edit", args=[cast.alice.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {**VALID, "phone": "555-0142"}).status_code == 302
    assert 'value="555-0142"' in client.get(url).content.decode()
    assert client.post(url, {**VALID, "phone": "555-0143"}).status_code == 302
    page = client.get(url).content.decode()
    assert 'value="555-0143"' in page and "555-0142" not in page


def test_the_care_team_page_reads_only_the_team_and_the_clinicians_once(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("patients:care_team", args=[cast.alice.pk])
    _page_reads(client, url)
    reads = _page_reads(client, url)
    # The signed-in user and their second factor, the patient, their care team, and the clinicians both fields offer.
    assert len(reads) == 5, reads
    assert not any(table in read for read in reads for table in ("diagnosis", "medication", "externalclinician"))
    page = client.get(url).content.decode()
    # Both fields still offer every active clinician, the team ticked and the lead chosen.
    for clinician in (cast.bob, cast.charlie, cast.therapist, cast.nurse):
        assert page.count(f'value="{clinician.pk}"') == 2


def test_the_record_gives_the_age_beside_the_date_of_birth(cast, client_for):
    # Forty years old tomorrow: still 39 today (a year forty years back is a leap year exactly when this one is).
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    born = tomorrow.replace(year=tomorrow.year - 40)
    Patient.objects.filter(pk=cast.alice.pk).update(date_of_birth=born)
    page = client_for(cast.bob).get(reverse("patients:detail", args=[cast.alice.pk])).content.decode()
    assert f'{born.day} {born:%b} {born.year} <span class="muted">(age 39)</span>' in page


def test_removing_an_item_asks_on_a_page_of_its_own_first(cast, client_for):
    diagnosis = cast.alice.diagnoses.first()
    url = reverse("patients:part_remove", args=[cast.alice.pk, "diagnosis", diagnosis.pk])
    asked = client_for(cast.bob).post(url)
    assert asked.status_code == 200 and f"Remove {diagnosis} from" in asked.content.decode()
    assert cast.alice.diagnoses.filter(pk=diagnosis.pk).exists()
    removed = client_for(cast.bob).post(url, {"confirm": "yes"})
    assert removed.status_code == 302 and not cast.alice.diagnoses.filter(pk=diagnosis.pk).exists()


def test_staff_pages_say_a_date_of_birth_as_the_intake_does(cast, client_for):
    """The list and the record said 1980-05-17 where the intake and every staff message say 17 May 1980."""
    client = client_for(cast.bob)
    listed = client.get(reverse("patients:list"))
    record = client.get(reverse("patients:detail", kwargs={"patient_id": cast.alice.pk}))
    intake = client.get(reverse("screening:intake", kwargs={"patient_id": cast.alice.pk}))
    for page in (listed, record, intake):
        assert "17 May 1980" in page.content.decode() and "1980-05-17" not in page.content.decode()
