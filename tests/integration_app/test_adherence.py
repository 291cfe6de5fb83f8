import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone import formrender
from kapstone.dosing.models import DoseRecord
from kapstone.integration import selectors, services
from kapstone.integration.forms import IntegrationNoteForm
from kapstone.integration.window import Adherence
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import Enrolment
from tests.conftest import signed_in_client
from tests.integration_app.factories import given_dose, integration_session_after, journal_entry


def window_for(cast, patient, *, hours_ago):
    session = cast.dosing_session()
    record = DoseRecord.objects.create(
        session=session, patient=patient, administered_at=timezone.now() - datetime.timedelta(hours=hours_ago)
    )
    return services.window_open(dose_record=record)


def test_adherence_per_patient_and_per_group(cast):
    members = [e.patient for e in Enrolment.objects.filter(group=cast.dosing_session().group).order_by("id")]
    alice, second, third = members
    window_for(cast, alice, hours_ago=100)
    journal_entry(alice, text="day one", at=timezone.now() - datetime.timedelta(hours=80))  # 20 h after the dose
    window_for(cast, second, hours_ago=100)
    journal_entry(second, text="later", at=timezone.now() - datetime.timedelta(hours=40))  # 60 h after
    window_for(cast, third, hours_ago=100)  # nothing done
    [group] = selectors.adherence_overview(user=cast.bob).groups
    by_patient = {row.window.patient: row.adherence for row in group.rows}
    assert by_patient == {alice: Adherence.WITHIN_48H, second: Adherence.WITHIN_72H, third: Adherence.LATE}
    assert group.counts == {"within_48h": 1, "within_72h": 1, "late": 1, "open": 0}
    assert selectors.adherence_overview(user=cast.charlie).groups == []


def test_the_adherence_page_shows_booking_and_uses_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.bob)
    window_for(cast, cast.alice, hours_ago=5)
    client.get(reverse("integration:adherence"))
    with CaptureQueriesContext(connection) as one:
        page = client.get(reverse("integration:adherence")).content.decode()
    assert "not booked" in page
    dosing = cast.dosing_session()
    integration_session_after(dosing, hours=30)
    for patient in [e.patient for e in Enrolment.objects.filter(group=dosing.group)][1:]:
        window_for(cast, patient, hours_ago=5)
    with CaptureQueriesContext(connection) as three:
        page = client.get(reverse("integration:adherence")).content.decode()
    assert len(three) == len(one)
    assert "not booked" not in page and "Window open" in page


def test_the_adherence_page_shows_one_page_of_windows_with_the_true_total(cast, monkeypatch):
    monkeypatch.setattr(selectors, "ADHERENCE_PER_PAGE", 2)
    members = [e.patient for e in Enrolment.objects.filter(group=cast.dosing_session().group).order_by("id")]
    for hours_ago, patient in enumerate(members, start=1):
        window_for(cast, patient, hours_ago=hours_ago)
    newest, middle, oldest = members
    client = signed_in_client(cast.bob)

    first = client.get(reverse("integration:adherence")).content.decode()
    assert "Showing windows 1–2 of 3, newest first." in first
    assert newest.full_name in first and middle.full_name in first and oldest.full_name not in first
    assert 'href="?page=2"' in first

    second = client.get(reverse("integration:adherence"), {"page": 2}).content.decode()
    assert "Showing windows 3–3 of 3" in second
    assert oldest.full_name in second and newest.full_name not in second


@pytest.mark.parametrize(("asked", "shown"), [("abc", "1–2"), ("999", "3–3")])
def test_an_unreadable_adherence_page_shows_the_first_and_one_past_the_end_the_last(cast, monkeypatch, asked, shown):
    monkeypatch.setattr(selectors, "ADHERENCE_PER_PAGE", 2)
    for hours_ago, enrolment in enumerate(Enrolment.objects.filter(group=cast.dosing_session().group), start=1):
        window_for(cast, enrolment.patient, hours_ago=hours_ago)
    response = signed_in_client(cast.bob).get(reverse("integration:adherence"), {"page": asked})
    assert response.status_code == 200
    assert f"Showing windows {shown} of 3" in response.content.decode()


def test_a_single_page_of_windows_says_it_shows_them_all(cast):
    window_for(cast, cast.alice, hours_ago=5)
    page = signed_in_client(cast.bob).get(reverse("integration:adherence")).content.decode()
    assert "All 1 window, newest first." in page and "Showing windows" not in page


def test_the_adherence_page_names_the_practices_own_window_hours(cast):
    practice_value_set(actor=cast.admin, key="integration.preferred_hours", value=24, reason="our protocol")
    practice_value_set(actor=cast.admin, key="integration.outer_hours", value=60, reason="our protocol")
    window_for(cast, cast.alice, hours_ago=5)
    page = signed_in_client(cast.bob).get(reverse("integration:adherence")).content.decode()
    assert "within 24 h:" in page and "within 60 h:" in page
    assert "48 h" not in page and "72 h" not in page


def test_the_staff_timeline_lists_sessions_doses_shared_entries_and_notes_newest_first(cast):
    record = given_dose(cast, at=timezone.now() - datetime.timedelta(hours=2))
    services.window_open(dose_record=record)
    journal_entry(cast.alice, text="a shared insight", shared=True)
    journal_entry(cast.alice, text="painted", shared=True, activity="drawing", activity_minutes=25)
    timeline = selectors.staff_timeline(user=cast.therapist, patient_id=cast.alice.pk)
    items = timeline.items
    assert timeline.care_team
    assert [item.kind for item in items] == ["creative", "journal", "session", "dose"] or [
        item.kind for item in items
    ] == ["creative", "journal", "dose", "session"]
    assert items == sorted(items, key=lambda item: item.at, reverse=True)


def test_a_clinician_records_an_integration_note_linked_to_a_session(cast):
    dosing = cast.dosing_session()
    session = integration_session_after(dosing, hours=24)
    client = signed_in_client(cast.therapist)
    url = reverse("integration:note_add", args=[cast.alice.pk])
    assert client.post(url, {"session": session.pk, "text": "Spoke about her sister."}).status_code == 302
    assert (
        "Spoke about her sister."
        in signed_in_client(cast.nurse).get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
    )
    assert client.post(url, {"session": "", "text": ""}).status_code == 400


def test_the_note_form_on_the_timeline_is_drawn_as_the_form_fields_template_draws_it(cast):
    """Empty, drawn once for the requests that show the same sessions; refused, with the posted values and errors."""
    dosing = cast.dosing_session()
    integration_session_after(dosing, hours=24)
    sessions = selectors.integration_sessions_for(cast.alice)
    client = signed_in_client(cast.therapist)
    for _ in range(2):
        page = client.get(reverse("integration:timeline", args=[cast.alice.pk])).content.decode()
        assert formrender.form_fields(IntegrationNoteForm(sessions=sessions)) in page
    posted = {"session": "", "text": "<b>not linked</b>"}
    refused = client.post(reverse("integration:note_add", args=[cast.alice.pk]), posted)
    assert refused.status_code == 400
    drawn = formrender.form_fields(IntegrationNoteForm(posted, sessions=sessions))
    assert drawn in refused.content.decode() and "has-error" in drawn and "&lt;b&gt;not linked" in drawn


@pytest.mark.parametrize(
    ("hours_ago", "preferred_hours", "shown"), [(10, None, True), (60, None, False), (10, 24, True), (30, 24, False)]
)
def test_the_portal_says_until_when_the_integration_window_is_open(cast, hours_ago, preferred_hours, shown):
    """Until the preferred end of the window of the patient's latest dose, by the practice's setting."""
    if preferred_hours is not None:
        practice_value_set(
            actor=cast.admin, key="integration.preferred_hours", value=preferred_hours, reason="our protocol"
        )
    window = window_for(cast, cast.alice, hours_ago=hours_ago)
    page = signed_in_client(cast.alice_user).get(reverse("portal:home")).content.decode()
    until = timezone.localtime(window.dosed_at + datetime.timedelta(hours=preferred_hours or 48))
    assert ("Your integration window is open until" in page) is shown
    if shown:
        assert f"open until {until:%a} {until.day} {until:%b %Y, %H:%M}." in page
