"""Every column of a staff table has a header a screen reader can announce, the action column included."""

import pytest
from django.urls import reverse

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
