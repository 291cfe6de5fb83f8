"""Staff are chosen by one pair of fields (kapstone.accounts.fields), so a person reads the same in every form's
list: the consultation log's single choice and a group's facilitators both name Bob as "Bob (Prescriber)"."""

import html

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.accounts.fields import StaffChoiceField, StaffMultipleChoiceField, staff_label
from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.billing.forms import ChargeForm
from kapstone.dosing.forms import CountForm
from kapstone.formrender import read_choices_once
from tests.conftest import make_user, signed_in_client
from tests.faults.test_form_fuzz import constructor_arguments, every_form, required_arguments

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


def test_every_form_field_choosing_users_is_one_of_the_shared_staff_fields(cast):
    # Built as their views build them, since many forms set a field's queryset (or the field itself) on creation.
    arguments = constructor_arguments(cast)
    pickers, own_label = [], []
    for form_class in every_form():
        form = form_class(**{name: arguments[name] for name in required_arguments(form_class)})
        for name, field in form.fields.items():
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model is get_user_model():
                pickers.append(f"{form_class.__name__}.{name}")
                if not isinstance(field, StaffChoiceField | StaffMultipleChoiceField):
                    own_label.append(f"{form_class.__name__}.{name}")
    assert own_label == []
    # The search found the pickers it was written for, so an empty list above is not a search that matched nothing.
    assert {"AdministerForm.witness", "SlotForm.prescriber", "CareTeamForm.staff", "StaffAwayForm.staff"} <= set(
        pickers
    )


def test_the_billing_clinician_list_built_by_hand_reads_the_same(cast):
    clinicians = User.objects.filter(pk__in=[cast.bob.pk, cast.therapist.pk])
    form = ChargeForm(visit_choices=[], clinicians=clinicians)
    assert dict(form.fields["rendering_clinician"].choices) == {p.pk: staff_label(p) for p in clinicians}


def test_labels_add_no_read_per_person(cast):
    # The ledger shares one read of the signers among its forms: a label that read the role or the credentials
    # would add a query for each person on each field, so more staff would mean more reads.
    def reads_for_a_ledger_page():
        shared: dict = {}
        with CaptureQueriesContext(connection) as reads:
            page = [CountForm(read_once=shared), CountForm(read_once=shared)]
            read_choices_once(page)
            labels = [[label for _, label in form.fields["witness"].widget.choices] for form in page]
        return len(reads), labels

    before, labels = reads_for_a_ledger_page()
    assert labels[0] == labels[1] and "Bob (Prescriber)" in labels[0]
    for number in range(5):
        make_user(f"signer{number}", Role.NURSE, credentials="RN")
    after, labels = reads_for_a_ledger_page()
    assert after == before and "Signer0, RN (Nurse)" in labels[0]
