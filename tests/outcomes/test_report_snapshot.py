"""The report page shows a stored report while nothing it reads has changed, and never once something has: a new
questionnaire, an edited row, a bulk load, a new release or the clock make it recompute (snapshots.py)."""

import datetime
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.audit.models import AuditEvent
from kapstone.integration.models import IntegrationWindow
from kapstone.measures.models import Assessment
from kapstone.outcomes import services, snapshots
from kapstone.outcomes.models import ReportSnapshot
from kapstone.outcomes.report import build_report
from kapstone.outcomes.selectors import ReportFilters
from kapstone.patients.models import Diagnosis
from tests.conftest import make_user, signed_in_client
from tests.outcomes.factories import build_practice

pytestmark = pytest.mark.django_db


@pytest.fixture
def builds(monkeypatch):
    """Counts the reports built, building them as usual."""
    built = []

    def counted(*args, **kwargs):
        built.append(args)
        return build_report(*args, **kwargs)

    monkeypatch.setattr(services, "build_report", counted)
    return built


def _page(client, **query):
    response = client.get(reverse("outcomes:report"), query)
    assert response.status_code == 200
    return response.content.decode()


def _as_of(page):
    return re.search(r'id="outcomes-as-of">Figures as of ([^:]+:\d\d)', page).group(1)


def _end_of_course_phq9(patient, total):
    when = timezone.now()
    return Assessment.objects.create(
        patient=patient,
        instrument_id="phq9",
        occasion="end_of_course",
        due_at=when,
        status=Assessment.Status.COMPLETED,
        total=total,
        completed_at=when,
    )


def test_an_unchanged_practice_reuses_the_stored_report(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    first = _page(client)
    assert len(builds) == 1 and "Table 1" in first
    second = _page(client)
    assert len(builds) == 1, "nothing changed, so nothing is recomputed"
    assert second.count("Table 1") == 1 and _as_of(second) == _as_of(first)
    assert ReportSnapshot.objects.count() == 1
    # Said in the reader's words, not the cache's.
    assert ": up to date, as no data the report reads has changed since.</p>" in second


def test_the_report_says_when_it_was_generated_as_the_page_says_when_its_figures_are_from(builds):
    page = _page(signed_in_client(build_practice().staff["prescriber"]))
    generated = re.search(r"Generated ([^·]+?) ·", page).group(1)
    # One way of writing a date and time on one screen: "2026-12-07 08:20" stood under "7 December 2026, 08:20".
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d", generated) and re.fullmatch(
        r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d", _as_of(page)
    )


def test_a_new_questionnaire_response_makes_the_report_recompute(builds, django_capture_on_commit_callbacks):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    with django_capture_on_commit_callbacks(execute=True):
        _end_of_course_phq9(practice.patients[0], 1)
    _page(client)
    assert len(builds) == 2


def test_an_edited_row_makes_the_report_recompute(builds, django_capture_on_commit_callbacks):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    diagnosis = Diagnosis.objects.filter(patient=practice.patients[0]).get()
    diagnosis.icd10_code = "F43.12"
    with django_capture_on_commit_callbacks(execute=True):
        diagnosis.save()  # an edit: no new id anywhere, so only the change record says so
    page = _page(client)
    assert len(builds) == 2
    assert "Posttraumatic" in page or "PTSD" in page


def test_a_change_that_is_rolled_back_is_not_a_change(builds, django_capture_on_commit_callbacks):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    diagnosis = Diagnosis.objects.filter(patient=practice.patients[0]).get()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        diagnosis.save()
        raise RuntimeError("the service failed")
    assert callbacks == []
    _page(client)
    assert len(builds) == 1


def test_rows_added_without_signals_make_the_report_recompute(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    when = timezone.now()
    # A bulk load sends no signal: the newest id of the table moves all the same.
    Assessment.objects.bulk_create(
        [
            Assessment(
                patient=practice.patients[1],
                instrument_id="gad7",
                occasion="ad_hoc",
                due_at=when,
                status=Assessment.Status.COMPLETED,
                total=3,
                completed_at=when,
            )
        ]
    )
    _page(client)
    assert len(builds) == 2


def test_a_new_release_recomputes_the_report(builds, monkeypatch):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    monkeypatch.setattr(snapshots, "code_version", lambda: "another release")
    _page(client)
    assert len(builds) == 2


def test_figures_that_time_changes_are_recomputed_when_their_time_comes(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    ReportSnapshot.objects.update(valid_until=timezone.now() - datetime.timedelta(seconds=1))
    _page(client)
    assert len(builds) == 2


def test_an_open_integration_window_bounds_how_long_the_figures_hold():
    practice = build_practice()
    window = IntegrationWindow.objects.filter(patient__in=practice.patients).order_by("pk").first()
    assert window is not None
    IntegrationWindow.objects.filter(pk=window.pk).update(dosed_at=timezone.now() - datetime.timedelta(hours=1))
    report = build_report()
    assert report.adherence.open_windows >= 1
    assert timezone.now() < report.valid_until <= timezone.now() + datetime.timedelta(hours=72)


def test_while_a_build_is_under_way_the_page_says_so_and_shows_no_figures(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    key = snapshots.report_key(ReportFilters().as_plain(), "", 0)
    assert snapshots.claim_build(key, snapshots.fingerprint()[0])  # another worker is building it
    page = _page(client)
    assert builds == [] and "being updated" in page and "Table 1" not in page
    viewed = AuditEvent.objects.filter(object_type="outcomes_report").latest("id")
    assert '"figures_as_of":null' in viewed.detail.replace(" ", "")


def test_a_failed_build_gives_up_its_claim(monkeypatch):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])

    def broken(*args, **kwargs):
        raise RuntimeError("the build failed")

    monkeypatch.setattr(services, "build_report", broken)
    with pytest.raises(RuntimeError):
        client.get(reverse("outcomes:report"))
    monkeypatch.undo()
    assert "Table 1" in _page(client)


def test_each_view_is_audited_with_the_time_of_the_figures_it_showed(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    _page(client)
    views = AuditEvent.objects.filter(object_type="outcomes_report", action="read")
    assert views.count() == 2
    snapshot = ReportSnapshot.objects.get()
    assert all(snapshot.built_at.isoformat() in view.detail for view in views)


def test_each_reader_and_filter_has_its_own_report(builds):
    practice = build_practice()
    researcher = make_user("rita.snapshot", Role.RESEARCHER)
    _page(signed_in_client(practice.staff["prescriber"]))
    _page(signed_in_client(researcher))
    _page(signed_in_client(practice.staff["prescriber"]), template_id="group-kap-programme")
    assert len(builds) == 3 and ReportSnapshot.objects.count() == 3


def test_the_stored_page_view_reads_a_constant_number_of_rows_whatever_the_practice(builds):
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    with CaptureQueriesContext(connection) as small:
        _page(client)
    for patient in practice.patients:
        _end_of_course_phq9(patient, 5)
    _page(client)
    with CaptureQueriesContext(connection) as larger:
        _page(client)
    assert len(builds) == 2
    assert len(larger) == len(small)


def test_the_stored_page_view_reads_the_same_however_long_between_its_requests(builds, monkeypatch):
    """A minute passing between two views (on a loaded machine, more than the session's 10-second expiry slack
    passed) neither rebuilds the report nor adds a read: tests/conftest.py holds the session's idle push."""
    practice = build_practice()
    client = signed_in_client(practice.staff["prescriber"])
    _page(client)
    with CaptureQueriesContext(connection) as now:
        _page(client)
    later = timezone.now() + datetime.timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with CaptureQueriesContext(connection) as a_minute_later:
        _page(client)
    assert len(builds) == 1
    assert len(a_minute_later) == len(now)


def test_the_fingerprint_covers_every_table_the_report_reads():
    build_practice()
    with CaptureQueriesContext(connection) as captured:
        build_report()
    read = set()
    for query in captured:
        read |= set(re.findall(r'(?:FROM|JOIN) "(\w+)"', query["sql"]))
    covered = {model._meta.db_table for model in snapshots.INPUT_MODELS}
    # Staff names (the facilitator filter's label) are not figures of the report.
    assert read - covered <= {"accounts_user"}, read - covered


def _fingerprint_reads(queries) -> int:
    return sum(query["sql"].startswith(snapshots._newest_ids_sql()) for query in queries)


@pytest.mark.parametrize("researcher", [False, True], ids=["prescriber", "researcher"])
def test_a_report_page_reads_the_input_fingerprint_once_whether_it_builds_or_reuses(builds, researcher):
    practice = build_practice()
    reader = make_user("rita.once", Role.RESEARCHER) if researcher else practice.staff["prescriber"]
    client = signed_in_client(reader)
    with CaptureQueriesContext(connection) as building:
        _page(client)
    with CaptureQueriesContext(connection) as reusing:
        _page(client)
    assert len(builds) == 1
    assert _fingerprint_reads(building) == _fingerprint_reads(reusing) == 1


def test_the_report_page_query_count_is_constant_for_each_reader_and_filter(builds):
    practice = build_practice()
    readers = [
        (signed_in_client(practice.staff["prescriber"]), {}),
        (signed_in_client(practice.staff["prescriber"]), {"template_id": "group-kap-programme"}),
        (signed_in_client(make_user("rita.count", Role.RESEARCHER)), {}),
    ]

    def stored_counts() -> list[int]:
        counts = []
        for client, query in readers:
            _page(client, **query)  # built (or rebuilt) here, if its inputs changed
            with CaptureQueriesContext(connection) as captured:
                _page(client, **query)
            counts.append(len(captured))
        return counts

    before = stored_counts()
    assert stored_counts() == before
    for patient in practice.patients:
        _end_of_course_phq9(patient, 5)
    assert stored_counts() == before
    assert len(builds) == 2 * len(readers)
