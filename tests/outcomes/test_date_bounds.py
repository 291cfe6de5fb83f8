"""Dates a person enters for the outcomes report stay inside bounds that fit a course (not before 1900)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.conftest import signed_in_client


def test_a_filter_date_before_1900_is_refused_with_a_message(cast):
    response = signed_in_client(cast.admin).get(reverse("outcomes:report"), {"date_from": "0001-01-01"})
    assert response.status_code == 400
    assert "The date cannot be before 01 January 1900" in response.content.decode()


def test_the_command_refuses_a_date_before_1900(db, tmp_path):
    with pytest.raises(CommandError, match="cannot be before 1900-01-01") as error:
        call_command("report", "outcomes", "--out", str(tmp_path / "r.html"), "--from", "0001-01-01")
    assert error.value.returncode == 2
