import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from kapstone.dosing import services as dosing
from kapstone.integration.models import IntegrationWindow, JournalEntry, Notification
from kapstone.patients.services import childbearing_record
from tests.browser.helpers import sign_in
from tests.dosing.helpers import NO_RISK_SCREEN, receive_stock, signed
from tests.screening.helpers import ready_for_enrolment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def give_alice_a_dose(cast):
    """Alice through the enrolment gate and the same-day checks (no childbearing potential on record, no medicine
    changes, a suicide screen with every answer no), then dosed."""
    ready_for_enrolment(cast)
    childbearing_record(actor=cast.bob, patient=cast.alice, potential="no")
    cast.alice.refresh_from_db()
    session = cast.dosing_session()
    entry = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="L-INT",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("1000"),
    )
    record = dosing.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    dosing.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="",
        weight_kg=Decimal("70"),
        medication_changes="no",
    )
    dosing.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    dosing.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=120, diastolic=78, heart_rate=70, spo2=98
    )
    dosing.dose_order(actor=cast.bob, record=record, route="sublingual", dose_mg=Decimal("200"))
    dosing.dose_administer(actor=cast.nurse, record=record, balance=entry.lot.balances.get(), witness=signed(cast.bob))


def test_a_dose_prompts_the_patient_who_shares_an_entry_that_the_therapist_then_reads(browser, live_server, cast):
    give_alice_a_dose(cast)
    window = IntegrationWindow.objects.get(patient=cast.alice)
    assert Notification.objects.filter(window=window).exists()

    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.set_default_timeout(15000)
    sign_in(page, cast.alice_user, with_code=False)
    page.get_by_role("heading", name="Hello, Alice").wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My journal").click()
    page.get_by_role("heading", name="Your integration window is open").wait_for()
    page.get_by_role("link", name="Write about insights").click()
    page.get_by_label("Your entry").fill("I felt my shoulders drop for the first time in months.")
    page.get_by_label("Your mood right now, by your own rating").select_option("7")
    page.get_by_label("Share this entry with my care team").check()
    page.get_by_role("button", name="Save entry").click()
    page.get_by_text("shared it with your care team").wait_for()
    phone.close()
    entry = JournalEntry.objects.get(patient=cast.alice)
    assert entry.shared_with_care_team and entry.window == window

    desk = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768})
    page = desk.new_page()
    page.set_default_timeout(15000)
    sign_in(page, cast.therapist)
    page.get_by_role("heading", name="Good day").wait_for()
    page.goto(f"/integration/patient/{cast.alice.pk}/timeline/")
    page.get_by_text("I felt my shoulders drop for the first time in months.").wait_for()
    expect(page.get_by_text("Dose given")).to_be_visible()
    page.goto("/integration/adherence/")
    page.get_by_text("Done within the preferred window").wait_for()
    desk.close()
