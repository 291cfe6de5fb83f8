"""The patient list's rows drawn in Python (patient_tags.patient_list_rows) say what the template's loop said."""

import datetime
from pathlib import Path

import pytest
from django.template import engines
from django.urls import reverse

from kapstone.accounts.roles import Role
from kapstone.patients.models import CareTeamMembership, Diagnosis
from kapstone.patients.selectors import patient_list
from kapstone.patients.templatetags.patient_tags import patient_list_rows
from tests.conftest import make_patient, make_user, signed_in_client
from tests.parity import between_tags

OLD_ROWS = (Path(__file__).parent / "patient_list_row_template.html").read_text()


@pytest.mark.django_db
def test_the_rows_drawn_in_python_are_the_templates_rows(cast):
    awkward = make_patient('<b>"Zed"</b> & Co', "O'Hara <script>", team=[cast.bob, cast.therapist])
    awkward.pronouns = "they/<them>"
    awkward.date_of_birth = datetime.date(987, 1, 2)  # a year before 1000 keeps its four digits
    awkward.save()
    Diagnosis.objects.create(patient=awkward, icd10_code="F41.1", description="GAD & <panic>", is_primary=True)
    make_patient("Nodiag", "Person", team=[])  # no care team
    bare = make_patient("Bare", "Nodiagnosis", team=[cast.nurse])
    bare.diagnoses.all().delete()
    odd_staff = make_user("odd", Role.THERAPIST, last_name='D"Arcy & <Sons>')
    CareTeamMembership.objects.create(patient=bare, staff=odd_staff)
    page = patient_list(user=cast.admin)
    patients = list(page.object_list)
    assert len(patients) >= 5
    old = engines["django"].from_string(OLD_ROWS).render({"page": {"object_list": patients}})
    new = patient_list_rows(patients)
    assert between_tags(new) == between_tags(old)
    assert "2 Jan 0987" in new and "none recorded" in new and "D&quot;Arcy &amp; &lt;Sons&gt;" in new


@pytest.mark.django_db
def test_a_search_that_finds_nobody_says_so(cast):
    page = signed_in_client(cast.bob).get(reverse("patients:list"), {"q": "nobody-by-this-name"})
    assert page.status_code == 200 and "No patients found." in page.content.decode()


@pytest.mark.django_db
def test_a_patients_care_team_is_named_in_order_of_last_name(cast):
    patient = make_patient("Tess", "Teamed", team=[])
    for username, last_name in [("zed", "Zimmer"), ("amy", "Abbott"), ("mo", "Moreno")]:
        CareTeamMembership.objects.create(
            patient=patient, staff=make_user(username, Role.THERAPIST, last_name=last_name)
        )
    listed = next(row for row in patient_list(user=cast.admin).object_list if row.pk == patient.pk)
    assert [membership.staff.last_name for membership in listed.team] == ["Abbott", "Moreno", "Zimmer"]
