"""Every column of a staff table has a header a screen reader can announce, the action column included."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

import kapstone
from tests.measures.factories import due_assessment

EMPTY_HEADER = '<th scope="col"></th>'


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("measures:patient", lambda cast: {"patient_id": cast.alice.pk}),
        ("program:patient_away", lambda cast: {"patient_id": cast.alice.pk}),
        ("program:staff_away", lambda cast: {}),
        ("program:group", lambda cast: {"group_id": cast.dosing_session().group_id}),
    ],
)
def test_the_action_column_has_a_header_for_screen_readers(cast, client_for, name, kwargs):
    due_assessment(cast.alice)  # the patient's questionnaire table shows only with something due
    response = client_for(cast.bob).get(reverse(name, kwargs=kwargs(cast)))
    assert response.status_code == 200
    page = response.content.decode()
    assert EMPTY_HEADER not in page


def test_no_template_draws_a_column_header_with_nothing_to_announce():
    """A header cell left empty (the Dore table's row-label column was one) reads as nothing at all; a header
    without visible text carries visually-hidden words instead."""
    templates = Path(kapstone.__file__).parent
    empty = [
        f"{path.relative_to(templates)}: {match.group(0)}"
        for path in templates.rglob("*.html")
        for match in re.finditer(r"<th\b[^>]*>\s*</th>", path.read_text())
    ]
    assert empty == []
