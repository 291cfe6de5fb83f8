"""The on-call rota, a paging number and the safety plan, through their pages: allowed, denied, bad input."""

import datetime
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.alerts import services
from kapstone.alerts.models import OnCallSlot, SafetyPlan, StaffContact
from kapstone.audit.models import AuditEvent
from kapstone.measures.models import CriticalAlert
from tests.measures.factories import due_assessment

EIGHT, SIX, MIDNIGHT = datetime.time(8), datetime.time(18), datetime.time(0)
SLOT = {"prescriber": "", "weekday": "2", "starts": "18:00", "ends": "08:00"}
PLAN = {
    "warning_signs": "Not sleeping; pulling away from friends.",
    "coping_strategies": "Walk the dog; cold water on my face.",
    "distraction_people_places": "The library; my sister's kitchen.",
    "help_people": "Sam (partner) 555-0111",
    "professionals_agencies": "Dr. Bob at the practice; 988 (call or text)",
    "environment_safety": "Medicines kept by Sam.",
}


def test_a_prescriber_adds_an_overnight_slot_and_the_change_is_audited(cast, client_for):
    client = client_for(cast.bob)
    response = client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.charlie.pk})
    assert response.status_code == 302
    slot = OnCallSlot.objects.get()
    assert (slot.prescriber, slot.weekday, slot.overnight, slot.created_by) == (cast.charlie, 2, True, cast.bob)
    assert AuditEvent.objects.filter(object_type="on_call_slot", action="create").exists()
    page = client.get(reverse("alerts:rota")).content.decode()
    assert "Wednesday" in page and "(next day)" in page
    assert client.post(reverse("alerts:rota_remove", args=[slot.pk])).status_code == 302
    assert not OnCallSlot.objects.exists()


def test_bad_slots_are_refused_with_a_message_and_nothing_saved(cast, client_for):
    client = client_for(cast.bob)
    same = client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.bob.pk, "ends": "18:00"})
    assert same.status_code == 400 and "start and an end that differ" in same.content.decode()
    not_prescriber = client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.therapist.pk})
    assert not_prescriber.status_code == 400 and "Select a valid choice" in not_prescriber.content.decode()
    garbage = client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.bob.pk, "starts": "25:99"})
    assert garbage.status_code == 400
    assert not OnCallSlot.objects.exists()


def test_a_second_slot_at_the_same_start_is_refused_with_a_message_and_only_the_first_is_audited(cast, client_for):
    client = client_for(cast.bob)
    assert client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.charlie.pk}).status_code == 302
    again = client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.charlie.pk, "ends": "07:00"})
    assert again.status_code == 400 and "already has a slot starting then" in again.content.decode()
    assert OnCallSlot.objects.get().ends == datetime.time(8)
    assert AuditEvent.objects.filter(object_type="on_call_slot", action="create").count() == 1


def test_admins_may_view_the_rota_but_not_change_it(cast, client_for):
    client = client_for(cast.admin)
    page = client.get(reverse("alerts:rota")).content.decode()
    assert "Add to the rota" not in page
    assert client.post(reverse("alerts:rota_add"), SLOT | {"prescriber": cast.bob.pk}).status_code == 403


def test_the_default_on_call_prescriber_is_set_and_cleared_and_the_home_page_says_who_covers(cast, client_for):
    client = client_for(cast.bob)
    assert client.post(reverse("alerts:rota_default"), {"prescriber": cast.charlie.pk}).status_code == 302
    assert StaffContact.objects.get(is_default_on_call=True).user == cast.charlie
    assert "the default on-call prescriber" in client.get(reverse("home:home")).content.decode()
    assert client.post(reverse("alerts:rota_default"), {"prescriber": ""}).status_code == 302
    assert not StaffContact.objects.filter(is_default_on_call=True).exists()
    home = client.get(reverse("home:home")).content.decode()
    assert "rota gap" in home and "no medical director is set" in home
    cast.charlie.is_medical_director = True
    cast.charlie.save(update_fields=["is_medical_director"])
    assert "urgent alerts go to the medical director" in client.get(reverse("home:home")).content.decode()
    assert client.post(reverse("alerts:rota_default"), {"prescriber": "nobody"}).status_code == 400


def test_a_clinician_sets_a_paging_number_in_international_form(cast, client_for):
    client = client_for(cast.nurse)
    bad = client.post(reverse("alerts:paging"), {"mobile": "555-0100"})
    assert bad.status_code == 400 and "international form" in bad.content.decode()
    assert client.post(reverse("alerts:paging"), {"mobile": "+15555550100"}).status_code == 302
    assert StaffContact.objects.get(user=cast.nurse).mobile == "+15555550100"


def test_each_save_of_a_safety_plan_is_a_new_audited_version_the_patient_sees(cast, client_for):
    client = client_for(cast.therapist)
    url = reverse("alerts:safety_plan_save", args=[cast.alice.pk])
    assert client.post(url, PLAN).status_code == 302
    assert client.post(url, PLAN | {"help_people": "Sam (partner); Jo (neighbour)"}).status_code == 302
    assert list(SafetyPlan.objects.values_list("version", flat=True)) == [2, 1]
    assert AuditEvent.objects.filter(object_type="safety_plan", action="create").count() == 2
    staff_page = client.get(reverse("alerts:safety_plan", args=[cast.alice.pk]), {"version": "1"}).content.decode()
    assert "Version 1" in staff_page and "Jo (neighbour)" not in staff_page.split("Versions")[0]
    portal = client_for(cast.alice_user).get(reverse("alerts:my_safety_plan")).content.decode()
    assert "Jo (neighbour)" in portal and "Walk the dog" in portal and 'href="tel:988"' in portal


def test_the_safety_plan_form_starts_from_the_plan_in_force(cast, client_for):
    client = client_for(cast.therapist)
    page_url = reverse("alerts:safety_plan", args=[cast.alice.pk])
    save_url = reverse("alerts:safety_plan_save", args=[cast.alice.pk])
    assert "Walk the dog" not in client.get(page_url).content.decode()
    client.post(save_url, PLAN)
    assert ">\nWalk the dog; cold water on my face.</textarea>" in client.get(page_url).content.decode()
    client.post(save_url, PLAN | {"coping_strategies": "Run round the block."})
    form = client.get(page_url).content.decode().split("Write a new version")[1]
    assert ">\nRun round the block.</textarea>" in form and "Walk the dog" not in form


def test_an_empty_or_overlong_safety_plan_is_refused(cast, client_for):
    client = client_for(cast.bob)
    url = reverse("alerts:safety_plan_save", args=[cast.alice.pk])
    empty = client.post(url, {name: "  " for name in PLAN})
    assert empty.status_code == 400 and "at least one section" in empty.content.decode()
    assert client.post(url, PLAN | {"warning_signs": "x" * 4001}).status_code == 400
    assert not SafetyPlan.objects.exists()


def test_outside_the_care_team_the_safety_plan_does_not_exist(cast, client_for):
    client = client_for(cast.charlie)
    assert client.get(reverse("alerts:safety_plan", args=[cast.alice.pk])).status_code == 404
    assert client.post(reverse("alerts:safety_plan_save", args=[cast.alice.pk]), PLAN).status_code == 404
    assert (
        client_for(cast.admin).post(reverse("alerts:safety_plan_save", args=[cast.alice.pk]), PLAN).status_code == 403
    )
    assert not SafetyPlan.objects.exists()


def test_the_crisis_page_shows_the_practices_promise_tappable_lines_and_the_safety_plan(cast, client_for):
    from kapstone.alerts import services
    from kapstone.practice.settings_store import practice_value_set

    services.safety_plan_save(actor=cast.bob, patient=cast.alice, sections=PLAN)
    practice_value_set(
        actor=cast.admin, key="measures.crisis_page_promise", value="We read answers on weekdays.", reason="Policy"
    )
    assessment = due_assessment(cast.alice)
    data = {f"item_{n}": "1" for n in range(1, 10)} | {"action": "submit"}
    page = client_for(cast.alice_user).post(reverse("portal:questionnaire", args=[assessment.pk]), data)
    body = page.content.decode()
    assert "Help is available now" in body and "We read answers on weekdays." in body
    assert 'href="tel:988"' in body and 'href="sms:988"' in body and 'href="tel:911"' in body
    assert 'href="sms:911"' not in body
    assert "Walk the dog" in body
    assert CriticalAlert.objects.get().pages


def test_the_slot_and_default_prescriber_pickers_each_have_their_own_label(cast, client_for):
    page = client_for(cast.bob).get(reverse("alerts:rota")).content.decode()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    pickers = re.findall(r'<select name="prescriber"[^>]*\bid="([^"]+)"', page)
    assert len(pickers) == 2
    for picker in pickers:
        assert f'<label for="{picker}"' in page


def _rota_reads(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("alerts:rota")).content.decode()
    return sum(query["sql"].lstrip().startswith("SELECT") for query in queries), page


def test_the_rota_page_takes_the_same_number_of_queries_for_one_slot_or_many(cast, client_for):
    client = client_for(cast.bob)
    client.get(reverse("alerts:rota"))  # the session's first request reads more than any later one
    # Daytime slots on the other days of the week, so that nobody is on call now and the count does not depend on
    # when the test runs.
    first, *others = [day for day in range(7) if day != timezone.localtime().weekday()]
    OnCallSlot.objects.create(prescriber=cast.bob, weekday=first, starts=EIGHT, ends=SIX, created_by=cast.bob)
    one, _ = _rota_reads(client)
    for weekday in others:
        OnCallSlot.objects.create(prescriber=cast.charlie, weekday=weekday, starts=EIGHT, ends=SIX, created_by=cast.bob)
    many, page = _rota_reads(client)
    # The session, the user and their device; who is on call (the slots' times, then the default and the medical
    # directors it falls back to); the slots shown; and the prescribers both forms offer, read once for the two.
    assert many == one == 8
    assert page.count(f"<td>{cast.charlie}</td>") == len(others)


def test_the_rota_page_names_whoever_covers_now_and_the_default_and_medical_directors_behind_them(cast, client_for):
    client = client_for(cast.bob)
    cast.charlie.is_medical_director = True
    cast.charlie.save()
    gap = client.get(reverse("alerts:rota")).content.decode()
    assert "rota gap" in gap and f"medical director, <strong>{cast.charlie}</strong>" in gap
    assert f"medical director ({cast.charlie})" in gap and "Nobody: hours no slot covers" in gap
    services.rota_default_set(actor=cast.bob, prescriber=cast.bob)
    default = client.get(reverse("alerts:rota")).content.decode()
    assert f"<strong>{cast.bob}</strong>, the default on-call prescriber" in default
    assert f"{cast.bob} covers every hour no slot does." in default and f"medical director ({cast.charlie})" in default
    now = timezone.localtime()
    # Starting and ending at midnight, the slot covers the whole of today.
    OnCallSlot.objects.create(
        prescriber=cast.charlie, weekday=now.weekday(), starts=MIDNIGHT, ends=MIDNIGHT, created_by=cast.bob
    )
    rota = client.get(reverse("alerts:rota")).content.decode()
    assert f"On call now: <strong>{cast.charlie}</strong>." in rota
    assert f"{cast.bob} covers every hour no slot does." in rota and f"medical director ({cast.charlie})" in rota
