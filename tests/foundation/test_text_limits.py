"""Every text a person types is bounded: too long a text is refused by its form with a message, never stored."""

import pytest
from django.test import RequestFactory

from kapstone.accounts.forms import LoginForm
from kapstone.dosing.forms import NOTE_MAX_LENGTH, AdverseEventForm
from kapstone.patients.forms import PatientForm
from kapstone.practice.forms import ProposalDecisionForm, SettingChangeForm


@pytest.mark.parametrize(
    ("form_class", "data", "field"),
    [
        (
            AdverseEventForm,
            {"kind": "nausea", "severity": "mild", "description": "x" * (NOTE_MAX_LENGTH + 1)},
            "description",
        ),
        (
            AdverseEventForm,
            {"kind": "nausea", "severity": "mild", "action_taken": "x" * (NOTE_MAX_LENGTH + 1)},
            "action_taken",
        ),
        (PatientForm, {"address": "x" * 501}, "address"),
        (SettingChangeForm, {"key": "dosing.stop_systolic", "action": "change", "reason": "x" * 501}, "reason"),
        (ProposalDecisionForm, {"decision": "decline", "note": "x" * 2001}, "note"),
    ],
)
def test_too_long_a_text_is_refused_with_a_message(form_class, data, field):
    form = form_class(data=data)
    assert not form.is_valid()
    assert "at most" in " ".join(form.errors[field])


@pytest.mark.django_db
def test_a_password_past_the_bound_is_refused_before_any_hash_is_taken(cast, monkeypatch):
    tried = []
    monkeypatch.setattr("django.contrib.auth.forms.authenticate", lambda *args, **kwargs: tried.append(1))
    form = LoginForm(request=RequestFactory().post("/"), data={"username": "bob", "password": "x" * 4097})
    assert not form.is_valid()
    assert "at most 4096" in " ".join(form.errors["password"])
    assert tried == []


@pytest.mark.django_db
def test_a_username_past_the_login_columns_length_is_refused_before_any_attempt_is_logged(cast, monkeypatch):
    tried = []
    monkeypatch.setattr("django.contrib.auth.forms.authenticate", lambda *args, **kwargs: tried.append(1))
    form = LoginForm(request=RequestFactory().post("/"), data={"username": "a" * 1000, "password": "x"})
    assert not form.is_valid()
    assert "at most 150" in " ".join(form.errors["username"])
    assert tried == []
