"""Staff are chosen by one pair of fields (kapstone.accounts.fields), so a person reads the same in every form's
list: the consultation log's single choice and a group's facilitators both name Bob as "Bob (Prescriber)"."""

import html

import pytest
from django import forms
from django.urls import reverse

from kapstone.accounts.fields import StaffChoiceField, StaffMultipleChoiceField, staff_label
from kapstone.accounts.models import User
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def test_both_fields_label_a_person_by_name_and_credentials_with_their_role(cast):
    cast.bob.credentials = "MD"
    cast.bob.save(update_fields=["credentials"])
    staff = User.objects.filter(pk__in=[cast.bob.pk, cast.therapist.pk]).order_by("pk")
    single = dict(StaffChoiceField(queryset=staff).choices)
    several = dict(StaffMultipleChoiceField(queryset=staff).choices)
    assert [label for value, label in single.items() if value] == list(several.values())
    assert (
        list(several.values())
        == ["Bob, MD (Prescriber)", "Theo (Therapist / facilitator)"]
        == [staff_label(p) for p in staff]
    )


def test_the_single_choice_gives_one_person_and_the_multiple_choice_several_as_before(cast):
    staff = User.objects.filter(pk__in=[cast.bob.pk, cast.therapist.pk])
    assert StaffChoiceField(queryset=staff).clean(str(cast.bob.pk)) == cast.bob
    chosen = StaffMultipleChoiceField(queryset=staff).clean([str(cast.bob.pk), str(cast.therapist.pk)])
    assert set(chosen) == {cast.bob, cast.therapist}
    for field, value in [
        (StaffChoiceField(queryset=staff), str(cast.nurse.pk)),
        (StaffMultipleChoiceField(queryset=staff), [str(cast.nurse.pk)]),
        (StaffChoiceField(queryset=staff), ""),
        (StaffMultipleChoiceField(queryset=staff), []),
    ]:
        with pytest.raises(forms.ValidationError):
            field.clean(value)


def test_the_consultation_log_and_the_group_form_name_staff_the_same(cast):
    client = signed_in_client(cast.admin)
    consultation = client.get(reverse("screening:patient", kwargs={"patient_id": cast.alice.pk}))
    group = client.get(reverse("program:group_create"))
    assert consultation.status_code == group.status_code == 200
    for page in (consultation, group):
        text = html.unescape(page.text)
        assert "Bob (Prescriber)" in text and "Theo (Therapist / facilitator)" in text


def test_a_staff_choice_outside_the_list_is_a_form_message_on_either_form(cast):
    client = signed_in_client(cast.admin)
    consultation = client.post(
        reverse("screening:consultation_add", kwargs={"patient_id": cast.alice.pk}),
        {"clinician_name": "Dr. Rivera", "staff": cast.researcher.pk, "contacted_at": "2026-01-05T10:00"},
    )
    group = client.post(
        reverse("program:group_create"),
        {"name": "Autumn", "start_date": "2030-01-07", "facilitators": [cast.researcher.pk]},
    )
    for response in (consultation, group):
        assert response.status_code == 400 and "Select a valid choice" in response.text


def test_a_patient_is_refused_both_forms(cast):
    client = signed_in_client(cast.alice_user)
    assert client.get(reverse("program:group_create")).status_code == 403
    response = client.post(
        reverse("screening:consultation_add", kwargs={"patient_id": cast.alice.pk}), {"staff": cast.bob.pk}
    )
    assert response.status_code == 403
