"""Long lists count their rows only up to kapstone.paging's bound, and still page through every row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone import paging
from kapstone.paging import BoundedPaginator, bounded_page
from kapstone.patients.models import Patient
from tests.conftest import make_patient


@pytest.fixture
def twelve_patients(db):
    for i in range(12):
        make_patient(f"Given{i:02d}", f"Family{i:02d}")
    return Patient.objects.order_by("family_name")


@pytest.fixture
def bound_of_five(monkeypatch):
    monkeypatch.setattr(paging, "COUNT_BOUND", 5)


def test_a_list_shorter_than_the_bound_is_counted_exactly(twelve_patients):
    paginator = BoundedPaginator(twelve_patients, 5, page_number=1)
    assert (paginator.count, paginator.count_is_exact, paginator.count_label) == (12, True, "12")
    assert (paginator.num_pages, paginator.num_pages_label) == (3, "3")


def test_past_the_bound_the_count_says_more_than_and_the_next_page_is_there(twelve_patients, bound_of_five):
    first = bounded_page(twelve_patients, 2, 1)
    assert first.paginator.count_label == "more than 5" and not first.paginator.count_is_exact
    assert first.paginator.num_pages_label == "more than 2"
    # Each page counts through itself, so every page but the true last one offers the next.
    names = []
    for number in range(1, 7):
        page = bounded_page(twelve_patients, 2, number)
        assert page.number == number and page.has_next() == (number < 6)
        names += [patient.given_name for patient in page.object_list]
    assert names == [f"Given{i:02d}" for i in range(12)]
    assert bounded_page(twelve_patients, 2, 6).paginator.count_is_exact


@pytest.mark.parametrize("asked", ["x", "", None])
def test_an_unreadable_page_number_gives_the_first_page(twelve_patients, bound_of_five, asked):
    assert bounded_page(twelve_patients, 2, asked).number == 1


@pytest.mark.parametrize("asked", ["99", str(10**40)])
def test_a_page_number_past_the_end_gives_the_last_page(twelve_patients, bound_of_five, asked):
    page = bounded_page(twelve_patients, 2, asked)
    assert page.number == 6 and page.paginator.count_is_exact


def test_the_count_stops_at_the_bound_without_sorting(twelve_patients, bound_of_five):
    with CaptureQueriesContext(connection) as captured:
        BoundedPaginator(twelve_patients, 2, page_number=1).count  # noqa: B018 - the count is the query
    (sql,) = [query["sql"] for query in captured]
    assert "COUNT(" in sql and "LIMIT 6" in sql and "ORDER BY" not in sql


def test_the_patient_list_and_home_say_more_than_the_bound(cast, client_for, bound_of_five):
    for i in range(26):
        make_patient(f"Extra{i}", "Many", team=[cast.bob])
    client = client_for(cast.bob)
    # A page counts at least through itself: 25 rows on the list, the home's 10.
    listed = client.get(reverse("patients:list")).content.decode()
    assert "More than 25 patients." in listed and "Page 1 of more than 1" in listed
    assert "Page 2 of 2" in client.get(reverse("patients:list"), {"page": 2}).content.decode()
    home = client.get(reverse("home:home")).content.decode()
    assert "(more than 10)" in home
    searched = client.get(reverse("patients:list"), {"q": "Extra25"}).content.decode()
    assert "1 patient matching" in searched
