"""The list of dosing sessions."""

from django.urls import reverse
from django.utils import timezone


def test_each_session_shows_its_year_as_the_list_may_span_more_than_one(cast, client_for):
    session = cast.dosing_session()
    response = client_for(cast.bob).get(reverse("dosing:sessions"))
    assert response.status_code == 200
    local = timezone.localtime(session.starts_at)
    assert f"{local:%a} {local.day} {local:%b} {local.year}, {local:%H:%M}" in response.content.decode()
