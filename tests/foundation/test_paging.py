"""Long lists count their rows only up to kapstone.paging's bound, and still page through every row."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone import paging
from kapstone.compiled_once import compiled_once
from kapstone.paging import BoundedPaginator, bounded_page, compiled_page
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


@compiled_once(born_before=datetime.date)
def _patients_by_family(start=None, end=None, *, born_before):
    return Patient.objects.filter(date_of_birth__lt=born_before).order_by("family_name", "pk")[start:end]


@compiled_once(born_before=datetime.date)
def _the_first_patient(*, born_before):
    return Patient.objects.filter(date_of_birth__lt=born_before, family_name="Family00")


BORN_BEFORE = datetime.date(2000, 1, 1)  # after every twelve_patients' birthday


def _families(rows):
    return [patient.family_name for patient in rows]


def test_a_compiled_page_reads_its_rows_and_count_from_the_compiled_read_in_two_queries(twelve_patients):
    with CaptureQueriesContext(connection) as captured:
        page, rows = compiled_page(_patients_by_family, per_page=5, page_number=1, born_before=BORN_BEFORE)
    assert rows == page.object_list and _families(rows) == [f"Family{i:02d}" for i in range(5)]
    assert (page.number, page.paginator.count_label, page.paginator.num_pages_label) == (1, "12", "3")
    counted, read = [query["sql"] for query in captured]
    assert "COUNT(" in counted and "LIMIT 1001" in counted and "ORDER BY" not in counted
    assert "LIMIT 5" in read and "OFFSET" not in read


def test_a_compiled_page_in_the_middle_reads_that_pages_rows(twelve_patients):
    page, rows = compiled_page(_patients_by_family, per_page=5, page_number="2", born_before=BORN_BEFORE)
    assert page.number == 2 and page.has_previous() and page.has_next()
    assert _families(rows) == [f"Family{i:02d}" for i in range(5, 10)]
    assert (page.start_index(), page.end_index()) == (6, 10)


@pytest.mark.parametrize("asked", [3, "99", str(10**40)])
def test_a_compiled_page_past_the_end_is_the_last_page(twelve_patients, asked):
    page, rows = compiled_page(_patients_by_family, per_page=5, page_number=asked, born_before=BORN_BEFORE)
    assert page.number == 3 and not page.has_next()
    assert _families(rows) == ["Family10", "Family11"]


@pytest.mark.parametrize("asked", ["x", "", None, "2.5"])
def test_a_compiled_page_of_an_unreadable_number_is_the_first_page(twelve_patients, asked):
    page, rows = compiled_page(_patients_by_family, per_page=5, page_number=asked, born_before=BORN_BEFORE)
    assert page.number == 1 and _families(rows) == [f"Family{i:02d}" for i in range(5)]


def test_a_compiled_page_past_the_bound_says_more_than_and_offers_the_next_page(twelve_patients, bound_of_five):
    first, _ = compiled_page(_patients_by_family, per_page=2, page_number=1, born_before=BORN_BEFORE)
    assert (first.paginator.count_label, first.paginator.num_pages_label) == ("more than 5", "more than 2")
    names = []
    for number in range(1, 7):
        page, rows = compiled_page(_patients_by_family, per_page=2, page_number=number, born_before=BORN_BEFORE)
        assert page.number == number and page.has_next() == (number < 6)
        names += _families(rows)
    assert names == [f"Family{i:02d}" for i in range(12)]
    assert page.paginator.count_label == "12"


def test_a_compiled_page_binds_its_placeholders_and_of_no_rows_is_one_empty_page(twelve_patients):
    page, rows = compiled_page(_patients_by_family, per_page=5, page_number=2, born_before=datetime.date(1970, 1, 1))
    assert (page.number, rows, page.paginator.count_label) == (1, [], "0")


def test_a_compiled_page_counts_with_the_read_it_is_told_to(twelve_patients):
    # A list may count its rows with a lighter read of the same rows (the adherence page's, without its joins); this
    # one counts one row of the twelve, so the page is counted by it and not by the read of its rows.
    page, rows = compiled_page(
        _patients_by_family, per_page=5, page_number=1, counted_by=_the_first_patient, born_before=BORN_BEFORE
    )
    assert page.paginator.count_label == "1" and _families(rows) == ["Family00"]


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
