import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.audit.models import AuditEvent
from kapstone.creativity.models import CreativityAdministration
from kapstone.measures.models import Assessment
from kapstone.program import planning, selectors, services
from kapstone.program.models import Enrolment, Group, GroupSession, Room, Unavailability
from tests.conftest import make_patient


@pytest.fixture
def gate_open(monkeypatch):
    monkeypatch.setattr(services, "enrolment_blockers", lambda *, patient: [])


@pytest.fixture
def group(cast):
    Room.objects.create(name="Cedar room", capacity=4)
    return services.group_create(
        actor=cast.admin,
        name="Spring group",
        template_id="group-kap-programme",
        start_date=timezone.localdate() + datetime.timedelta(days=7),
        facilitators=[cast.bob, cast.therapist],
    )


@pytest.fixture
def bob(client_for, cast):
    return client_for(cast.bob)


def _enrol_three(cast, group):
    team = [cast.bob, cast.therapist, cast.nurse]
    for patient in [cast.alice, make_patient("Ines", "Spring", team=team), make_patient("Jonas", "Spring", team=team)]:
        Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.ENROLLED)


def test_the_group_list_shows_counts_in_a_constant_number_of_queries(cast, bob):
    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            response = bob.get(reverse("program:groups"))
        assert response.status_code == 200
        return len(queries), response

    for n in range(2):
        services.group_create(
            actor=cast.admin,
            name=f"Group {n}",
            template_id="group-kap-programme",
            start_date=datetime.date(2030, 1, 7),
            facilitators=[cast.bob, cast.therapist],
        )
    few, _ = page_queries()
    for n in range(2, 6):
        group = services.group_create(
            actor=cast.admin,
            name=f"Group {n}",
            template_id="group-kap-programme",
            start_date=datetime.date(2030, 1, 7),
            facilitators=[cast.bob, cast.therapist],
        )
        Enrolment.objects.create(group=group, patient=cast.alice, status=Enrolment.Status.ENROLLED)
        Enrolment.objects.create(group=group, patient=cast.dana, status=Enrolment.Status.WAITLISTED)
    many, response = page_queries()
    assert many == few
    assert re.search(r"Group 5</a></td>\s*<td>[^<]*</td><td>Forming</td>\s*<td>1 of 4</td><td>1</td>", response.text)


def test_the_group_list_counts_a_finished_groups_completed_enrolments(cast, bob):
    group = services.group_create(
        actor=cast.admin,
        name="Finished group",
        template_id="group-kap-programme",
        start_date=datetime.date(2026, 1, 5),
        facilitators=[cast.bob, cast.therapist],
    )
    for patient in [cast.alice, cast.dana]:
        Enrolment.objects.create(group=group, patient=patient, status=Enrolment.Status.COMPLETED)
    Group.objects.filter(pk=group.pk).update(status=Group.Status.COMPLETED)
    response = bob.get(reverse("program:groups"))
    assert re.search(
        r"Finished group</a></td>\s*<td>[^<]*</td><td>Completed</td>\s*<td>2 of 4 \(2 completed\)</td>", response.text
    )
    assert "0 of 4" not in response.text


def test_a_group_needs_a_prescriber_among_its_facilitators(cast, bob):
    form = {
        "name": "Autumn group",
        "template_id": "journey-clinical-style",
        "start_date": "2030-01-07",
        "facilitators": [cast.therapist.pk, cast.nurse.pk],
    }
    response = bob.post(reverse("program:group_create"), form)
    assert response.status_code == 400
    assert "Choose at least one prescriber" in response.text
    response = bob.post(reverse("program:group_create"), {**form, "facilitators": [cast.bob.pk, cast.therapist.pk]})
    assert response.status_code == 302
    assert "Journey Clinical style course" in bob.get(response.url).text


def test_the_gates_reasons_are_shown_when_a_patient_cannot_join(cast, bob, group, monkeypatch):
    monkeypatch.setattr(
        services, "enrolment_blockers", lambda *, patient: ["screening decision is needs review", "no consent"]
    )
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": cast.alice.pk}, follow=True)
    assert "Alice Abernathy cannot join yet: screening decision is needs review; no consent." in response.text
    assert not group.enrolments.exists()


def test_staff_enrol_only_patients_they_may_see(cast, bob, group, gate_open):
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": cast.dana.pk})
    assert response.status_code == 400
    assert not group.enrolments.exists()
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": cast.alice.pk}, follow=True)
    assert "Alice Abernathy has joined Spring group." in response.text
    assert group.enrolments.get().status == Enrolment.Status.ENROLLED


def test_the_patients_the_group_page_offers_to_enrol_are_recorded_as_read(cast, client_for, group):
    """The enrol and waitlist pickers show each candidate's name and record number: every patient offered is linked
    to the page's audit event, and a patient the reader may not see is neither offered nor named."""
    response = client_for(cast.admin).get(reverse("program:group", args=[group.pk]))
    assert "Dana Delacroix" in response.text
    offered = AuditEvent.objects.get(object_type="enrolment_candidates", object_id=str(group.pk))
    assert set(offered.listed_patients.values_list("patient_id", flat=True)) == {cast.alice.pk, cast.dana.pk}

    bob = client_for(cast.bob)
    bob.get(reverse("program:group", args=[group.pk]))
    offered_to_bob = AuditEvent.objects.filter(object_type="enrolment_candidates", actor_id=cast.bob.pk).get()
    assert offered_to_bob.listed_patient_ids == {cast.alice.pk}


def test_enrolling_a_patient_already_in_an_overlapping_course_shows_why_and_saves_nothing(cast, bob, group, gate_open):
    other = services.group_create(
        actor=cast.admin,
        name="Overlapping group",
        template_id=group.template_id,
        start_date=group.start_date,
        facilitators=[cast.bob, cast.therapist],
    )
    services.enrol(actor=cast.bob, group=other, patient=cast.alice)
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": cast.alice.pk}, follow=True)
    assert "Alice Abernathy is already enrolled in Overlapping group" in response.text
    assert "which overlaps this course" in response.text
    assert not group.enrolments.exists()


def test_a_full_group_offers_the_waitlist(cast, bob, group, gate_open):
    _enrol_three(cast, group)
    Enrolment.objects.create(
        group=group, patient=make_patient("Kai", "Full", team=[cast.bob]), status=Enrolment.Status.ENROLLED
    )
    late = make_patient("Lior", "Late", team=[cast.bob])
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": late.pk}, follow=True)
    assert "Spring group is full (4 of 4). Put Lior Late on the waitlist." in response.text
    bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": late.pk, "enrol-waitlist_if_full": "on"})
    assert group.enrolments.get(patient=late).status == Enrolment.Status.WAITLISTED


def test_withdrawing_needs_a_reason(cast, bob, group):
    _enrol_three(cast, group)
    enrolment = group.enrolments.get(patient=cast.alice)
    assert bob.post(reverse("program:withdraw", args=[enrolment.pk]), {"reason": ""}).status_code == 400
    bob.post(reverse("program:withdraw", args=[enrolment.pk]), {"reason": "moving away", "confirm": "yes"})
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.waitlist_reason) == (Enrolment.Status.WITHDRAWN, "moving away")


def test_the_rosters_reason_box_says_what_it_asks_for_while_empty(cast, bob, group):
    _enrol_three(cast, group)
    enrolment = group.enrolments.get(patient=cast.alice)
    page = bob.get(reverse("program:group", args=[group.pk])).text
    assert f'<input id="reason-{enrolment.pk}" name="reason" placeholder="Reason for leaving"' in page
    # Each row's box, button and link name its patient to a screen reader: four "Withdraw" read alike.
    name = cast.alice.full_name
    assert f'<label class="visually-hidden" for="reason-{enrolment.pk}">Reason {name} leaves</label>' in page
    assert f'Withdraw<span class="visually-hidden"> {name}</span></button>' in page
    assert f'away dates<span class="visually-hidden"> of {name}</span></a>' in page


def test_withdrawing_asks_first_and_changes_nothing_until_confirmed(cast, bob, group):
    _enrol_three(cast, group)
    enrolment = group.enrolments.get(patient=cast.alice)
    url = reverse("program:withdraw", args=[enrolment.pk])
    response = bob.post(url, {"reason": 'moving "away" <soon>'})
    assert response.status_code == 200 and f'action="{url}"' in response.text
    assert 'name="confirm" value="yes"' in response.text and "moving &quot;away&quot; &lt;soon&gt;" in response.text
    enrolment.refresh_from_db()
    assert enrolment.status == Enrolment.Status.ENROLLED
    assert bob.post(url, {"reason": 'moving "away" <soon>', "confirm": "yes"}).status_code == 302
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.waitlist_reason) == (Enrolment.Status.WITHDRAWN, 'moving "away" <soon>')


def test_a_start_day_that_is_not_a_date_is_shown_as_an_error_and_nothing_is_planned(cast, bob, group):
    _enrol_three(cast, group)
    response = bob.post(reverse("program:plan", args=[group.pk]), {"plan-start_date": "2026-02-30"})
    assert response.status_code == 400 and "Enter a valid date." in response.text
    assert "Confirm and book these sessions" not in response.text and not group.sessions.exists()


def test_charlie_cannot_withdraw_a_patient_he_does_not_look_after(cast, client_for, group):
    _enrol_three(cast, group)
    group.facilitators.add(cast.charlie)
    enrolment = group.enrolments.get(patient=cast.alice)
    response = client_for(cast.charlie).post(reverse("program:withdraw", args=[enrolment.pk]), {"reason": "x"})
    assert response.status_code == 404


def test_staff_plan_review_and_confirm_a_course(cast, bob, group):
    _enrol_three(cast, group)
    review = bob.post(reverse("program:plan", args=[group.pk]))
    assert review.status_code == 200
    assert "Confirm and book these sessions" in review.text
    assert not group.sessions.exists()
    token = re.search(r'name="plan" value="([^"]+)"', review.text).group(1)

    page = bob.post(reverse("program:plan_confirm", args=[group.pk]), {"plan": token}, follow=True)

    assert "The sessions of Spring group are booked." in page.text
    assert group.sessions.count() == len(review.context["plan"].sessions)
    assert group.sessions.filter(kind=GroupSession.Kind.INTEGRATION, follows_dosing__isnull=False).count() == 3


def test_the_group_page_says_how_many_questionnaires_and_tasks_are_scheduled_for_the_readers_patients(
    cast, bob, client_for, group
):
    page = bob.get(reverse("program:group", args=[group.pk]))
    assert "0 questionnaires (0 done) and 0 creativity tasks (0 done)" in page.text
    assert "They are put due when the course is planned." in page.text

    _enrol_three(cast, group)
    services.plan_save(actor=cast.bob, group=group, sessions=planning.plan_course(group=group).sessions)
    questionnaires = Assessment.objects.filter(group=group).count()
    tasks = CreativityAdministration.objects.filter(group=group).count()
    done = Assessment.objects.filter(group=group).first()
    done.status = Assessment.Status.COMPLETED
    done.save(update_fields=["status"])
    page = bob.get(reverse("program:group", args=[group.pk]))
    assert questionnaires and tasks
    assert f"{questionnaires} questionnaires (1 done) and {tasks} creativity tasks (0 done)." in page.text

    # Charlie facilitates the group but looks after none of its patients: their work is not counted for him.
    group.facilitators.add(cast.charlie)
    page = client_for(cast.charlie).get(reverse("program:group", args=[group.pk]))
    assert "0 questionnaires (0 done) and 0 creativity tasks (0 done)." in page.text


def test_a_tampered_plan_is_not_saved(cast, bob, group):
    _enrol_three(cast, group)
    review = bob.post(reverse("program:plan", args=[group.pk]))
    token = re.search(r'name="plan" value="([^"]+)"', review.text).group(1)
    page = bob.post(reverse("program:plan_confirm", args=[group.pk]), {"plan": token[:-2] + "xx"}, follow=True)
    assert "expired or was changed" in page.text
    assert not group.sessions.exists()


def test_an_infeasible_course_names_what_blocks_it(cast, bob, group):
    _enrol_three(cast, group)
    Room.objects.update(capacity=2)
    page = bob.post(reverse("program:plan", args=[group.pk]), follow=True)
    assert "No plan fits" in page.text
    assert "the room must hold the whole group of 3 (no room is large enough" in page.text


def test_a_session_move_that_breaks_a_rule_is_refused_with_the_rule(cast, bob, group):
    _enrol_three(cast, group)
    proposal = planning.plan_course(group=group)
    services.plan_save(actor=cast.bob, group=group, sessions=proposal.sessions)
    first, second = group.sessions.filter(kind="dosing").order_by("number")[:2]
    moved_to = timezone.localtime(first.starts_at) + datetime.timedelta(days=1)
    response = bob.post(
        reverse("program:session_edit", args=[second.pk]),
        {
            "starts_at": moved_to.strftime("%Y-%m-%dT%H:%M"),
            "room": second.room.pk,
            "facilitators": [cast.bob.pk, cast.therapist.pk],
        },
    )
    assert response.status_code == 400
    assert "dosing session 2" in response.text
    second.refresh_from_db()
    assert timezone.localtime(second.starts_at) != moved_to


def test_each_sessions_adjust_link_names_the_session(cast, bob, group):
    _enrol_three(cast, group)
    proposal = planning.plan_course(group=group)
    services.plan_save(actor=cast.bob, group=group, sessions=proposal.sessions)
    page = bob.get(reverse("program:group", args=[group.pk])).text
    for session in group.sessions.all():
        day = timezone.localtime(session.starts_at).strftime("%a %-d %b %Y")
        name = f"{session.get_kind_display().lower()} session {session.number}, {day}"
        link = reverse("program:session_edit", args=[session.pk])
        assert f'<a href="{link}">adjust<span class="visually-hidden"> {name}</span></a>' in page


def test_each_dosing_sessions_room_link_says_what_it_opens(cast, bob, group):
    _enrol_three(cast, group)
    services.plan_save(actor=cast.bob, group=group, sessions=planning.plan_course(group=group).sessions)
    page = bob.get(reverse("program:group", args=[group.pk])).text
    dosing = group.sessions.filter(kind="dosing")
    assert dosing.exists()
    for session in dosing:
        link = reverse("dosing:room", args=[session.pk])
        label = f'open the room<span class="visually-hidden"> of dosing session {session.number}</span>'
        assert f'<a href="{link}">{label}</a>' in page


def test_the_session_form_shows_the_current_time(cast, bob):
    session = cast.dosing_session()
    response = bob.get(reverse("program:session_edit", args=[session.pk]))
    assert timezone.localtime(session.starts_at).strftime("%Y-%m-%dT%H:%M") in response.text


def test_away_dates_are_recorded_for_a_patient_and_for_oneself(cast, bob):
    day = timezone.localdate() + datetime.timedelta(days=10)
    dates = {"first_day": day.isoformat(), "last_day": day.isoformat(), "note": "holiday"}
    assert bob.post(reverse("program:patient_away", args=[cast.alice.pk]), dates).status_code == 302
    assert bob.post(reverse("program:staff_away"), {**dates, "staff": cast.bob.pk}).status_code == 302
    assert Unavailability.objects.filter(patient=cast.alice, first_day=day).exists()
    assert Unavailability.objects.filter(staff=cast.bob, first_day=day).exists()


def test_the_away_pages_lead_back_to_the_patient_or_to_the_groups_and_name_what_remove_removes(cast, bob):
    day = datetime.date(2031, 3, 4)
    Unavailability.objects.create(patient=cast.alice, first_day=day, last_day=day)
    page = bob.get(reverse("program:patient_away", args=[cast.alice.pk])).content.decode()
    assert f'<a href="{reverse("patients:detail", args=[cast.alice.pk])}">← {cast.alice.full_name}</a>' in page
    assert 'Remove<span class="visually-hidden"> the away dates from 4 Mar 2031</span>' in page
    page = bob.get(reverse("program:staff_away")).content.decode()
    assert f'<a href="{reverse("program:groups")}">← Groups</a>' in page and "No away dates recorded." in page


def test_a_patients_away_dates_are_removed_by_their_care_team_and_are_not_found_by_anyone_else(cast, client_for):
    day = timezone.localdate() + datetime.timedelta(days=10)
    away = Unavailability.objects.create(patient=cast.alice, first_day=day, last_day=day)
    url = reverse("program:away_delete", args=[away.pk])
    assert client_for(cast.charlie).post(url).status_code == 404
    assert Unavailability.objects.filter(pk=away.pk).exists()
    response = client_for(cast.bob).post(url)
    assert response.status_code == 302 and response.url == reverse("program:patient_away", args=[cast.alice.pk])
    assert not Unavailability.objects.filter(pk=away.pk).exists()


@pytest.mark.parametrize("last_day", ["9999-12-31", "far"])
def test_away_dates_more_than_two_years_ahead_are_refused_with_a_message(cast, bob, last_day):
    today = timezone.localdate()
    first = (today + datetime.timedelta(days=10)).isoformat()
    last = (
        (today.replace(year=today.year + 2) + datetime.timedelta(days=1)).isoformat() if last_day == "far" else last_day
    )
    for url, extra in (
        (reverse("program:staff_away"), {"staff": cast.bob.pk}),
        (reverse("program:patient_away", args=[cast.alice.pk]), {}),
    ):
        response = bob.post(url, {"first_day": first, "last_day": last, **extra})
        assert response.status_code == 400
        assert "Away dates can be recorded up to 2 years ahead, to " in response.text
    assert not Unavailability.objects.exists()
    with pytest.raises(services.PlanRefused, match="up to 2 years ahead"):
        services.unavailability_record(
            actor=cast.bob, staff=cast.bob, first_day=today, last_day=datetime.date(9999, 12, 31)
        )


def test_away_dates_up_to_two_years_ahead_are_recorded_and_an_end_before_the_start_is_refused(cast, bob):
    today = timezone.localdate()
    latest = Unavailability.latest_day(today)
    dates = {"first_day": latest.isoformat(), "last_day": latest.isoformat(), "staff": cast.bob.pk}
    assert bob.post(reverse("program:staff_away"), dates).status_code == 302
    backwards = {**dates, "first_day": (today + datetime.timedelta(days=5)).isoformat(), "last_day": today.isoformat()}
    response = bob.post(reverse("program:staff_away"), backwards)
    assert response.status_code == 400 and "The last day comes before the first." in response.text
    with pytest.raises(services.PlanRefused, match="The last day comes before the first"):
        services.unavailability_record(actor=cast.bob, staff=cast.bob, first_day=latest, last_day=today)
    assert Unavailability.objects.count() == 1


def test_the_latest_away_day_is_two_years_on_and_a_29th_of_february_falls_back_to_the_28th():
    assert Unavailability.latest_day(datetime.date(2026, 12, 5)) == datetime.date(2028, 12, 5)
    assert Unavailability.latest_day(datetime.date(2028, 2, 29)) == datetime.date(2030, 2, 28)


def test_a_clinician_cannot_record_away_dates_for_a_colleague(cast, bob):
    day = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    response = bob.post(reverse("program:staff_away"), {"first_day": day, "last_day": day, "staff": cast.therapist.pk})
    assert response.status_code == 400
    assert not Unavailability.objects.exists()


def test_the_away_pages_list_whose_dates_each_user_records_as_they_stand_now(cast, bob, client_for):
    day = timezone.localdate() + datetime.timedelta(days=10)
    for person, note in ((cast.bob, "bob's holiday"), (cast.therapist, "therapist's course")):
        services.unavailability_record(actor=cast.admin, staff=person, first_day=day, last_day=day, note=note)
    services.unavailability_record(actor=cast.bob, patient=cast.alice, first_day=day, last_day=day, note="alice away")
    admin_page = client_for(cast.admin).get(reverse("program:staff_away")).text
    assert "bob&#x27;s holiday" in admin_page and "therapist&#x27;s course" in admin_page
    assert "bob&#x27;s holiday" in bob.get(reverse("program:staff_away")).text
    assert "therapist" not in bob.get(reverse("program:staff_away")).text
    assert "alice away" in bob.get(reverse("program:patient_away", args=[cast.alice.pk])).text
    # The compiled reads read afresh: a removal shows on the next request.
    Unavailability.objects.filter(patient=cast.alice).delete()
    assert "alice away" not in bob.get(reverse("program:patient_away", args=[cast.alice.pk])).text
    Unavailability.objects.filter(staff=cast.bob).delete()
    assert "bob&#x27;s holiday" not in bob.get(reverse("program:staff_away")).text


def test_the_staff_away_page_reads_as_many_rows_in_as_many_queries_as_there_are_dates(cast, bob):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert bob.get(reverse("program:staff_away")).status_code == 200
        return len(captured)

    bob.get(reverse("program:staff_away"))
    before = queries()
    day = timezone.localdate() + datetime.timedelta(days=10)
    for offset in range(3):
        first = day + datetime.timedelta(days=offset * 3)
        services.unavailability_record(actor=cast.bob, staff=cast.bob, first_day=first, last_day=first)
    assert queries() == before


def test_the_group_list_names_facilitators_by_family_name_or_username_in_staff_order(cast, bob):
    cast.therapist.last_name = "Abbott"
    cast.therapist.save()
    services.group_create(
        actor=cast.admin,
        name="Named group",
        template_id="group-kap-programme",
        start_date=datetime.date(2030, 1, 7),
        facilitators=[cast.bob, cast.therapist],
    )
    text = bob.get(reverse("program:groups")).text
    # In the staff's order (by family name): bob has none, so comes first and is named by his username.
    assert re.search(r"Named group</a></td>.*?<td>bob, Abbott</td></tr>", text, re.S)


def test_the_group_list_is_paged_newest_first(cast, bob, monkeypatch):
    monkeypatch.setattr(selectors, "GROUPS_PER_PAGE", 2)
    for n, day in enumerate((7, 14, 21)):
        services.group_create(
            actor=cast.admin,
            name=f"Paged {n}",
            template_id="group-kap-programme",
            start_date=datetime.date(2030, 1, day),
            facilitators=[cast.bob, cast.therapist],
        )
    first = bob.get(reverse("program:groups")).content.decode()
    assert "Paged 2" in first and "Paged 1" in first and "Paged 0" not in first and 'href="?page=2"' in first
    last = bob.get(reverse("program:groups"), {"page": "99"}).content.decode()
    assert "Paged 0" in last and "Paged 2" not in last
    assert bob.get(reverse("program:groups"), {"page": "x"}).status_code == 200


def test_the_group_page_offers_a_bounded_list_of_patients_and_finds_the_others(cast, client_for, group, monkeypatch):
    """A practice's whole list in the pickers grew the page (and its audit read) with the practice: past
    CANDIDATES_OFFERED the page offers the first patients by name and asks for part of a name or a record number."""
    monkeypatch.setattr(selectors, "CANDIDATES_OFFERED", 1)
    admin = client_for(cast.admin)
    url = reverse("program:group", args=[group.pk])

    def offered(response):
        event = AuditEvent.objects.filter(object_type="enrolment_candidates").latest("pk")
        options = {p.pk for p in (cast.alice, cast.dana) if f'<option value="{p.pk}"' in response.text}
        return options, event.listed_patient_ids

    first = admin.get(url)
    assert "The lists below show the first 1 patients, by name." in first.text
    assert offered(first) == ({cast.alice.pk}, {cast.alice.pk})
    by_name = admin.get(url, {"find": "delac"})
    assert offered(by_name) == ({cast.dana.pk}, {cast.dana.pk})
    assert "The lists below show the patients matching “delac”." in by_name.text
    by_number = admin.get(url, {"find": cast.dana.record_number})
    assert offered(by_number) == ({cast.dana.pk}, {cast.dana.pk})
    nobody = admin.get(url, {"find": "no such patient"})
    assert nobody.status_code == 200 and offered(nobody) == (set(), set())


def test_a_patient_found_by_a_search_can_be_enrolled(cast, bob, group, gate_open, monkeypatch):
    """The pickers draw a bounded list; what the enrol form accepts is every candidate the user may see."""
    monkeypatch.setattr(selectors, "CANDIDATES_OFFERED", 0)
    assert f'<option value="{cast.alice.pk}"' not in bob.get(reverse("program:group", args=[group.pk])).text
    response = bob.post(reverse("program:enrol", args=[group.pk]), {"enrol-patient": cast.alice.pk}, follow=True)
    assert "Alice Abernathy has joined Spring group." in response.text


def test_the_roster_says_how_many_counted_patients_it_does_not_name(cast, bob, group):
    _enrol_three(cast, group)
    page = bob.get(reverse("program:group", args=[group.pk])).text
    assert "not on your care teams" not in page
    Enrolment.objects.create(
        group=group, patient=make_patient("Wren", "Elsewhere"), status=Enrolment.Status.WAITLISTED, waitlist_reason="x"
    )
    page = bob.get(reverse("program:group", args=[group.pk])).text
    assert "1 waiting" in page and "Wren" not in page
    assert "1 more enrolled or waiting patient is not on your care teams, so not listed here." in page


def test_a_planner_that_runs_out_of_time_says_so_in_words_staff_can_act_on(cast, bob, group, settings):
    _enrol_three(cast, group)
    settings.PLANNER_SOLVER = {"num_workers": 1, "max_time_in_seconds": 0.0001}
    page = bob.post(reverse("program:plan", args=[group.pk]), follow=True).text
    assert "No plan was found within the planner&#x27;s time limit (0.0001 s) and nothing was booked." in page
    assert "try again" in page and not group.sessions.exists()
