"""Billing pages by role: billing staff (admins) see and record money but never a psychotherapy note; clinicians
on the care team read the account; patients read their own; bad input is refused with a message."""

import csv
import datetime
import io
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kapstone.billing import selectors, services
from kapstone.billing.models import AccountEntry
from kapstone.integration import services as integration
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import Enrolment, GroupSession
from tests.billing.factories import paid
from tests.conftest import make_patient, signed_in_client

TODAY = datetime.date.today()


def identify_practice(cast):
    for key, value in {
        "billing.practice_name": "Synthetic KAP Practice",
        "billing.billing_address": "1 Example Street, Springfield",
        "billing.practice_npi": "1234567893",
        "billing.tax_id": "12-3456789",
    }.items():
        practice_value_set(actor=cast.admin, key=key, value=value, reason="test practice")


def test_billing_staff_record_a_payment_from_the_account_page(priced):
    cast = priced
    client = signed_in_client(cast.admin)
    url = reverse("billing:payment", args=[cast.alice.pk])
    response = client.post(url, {"amount": "85.50", "method": "cash", "on_date": TODAY.isoformat()})
    assert response.status_code == 302
    entry = AccountEntry.objects.get()
    assert entry.kind == "payment" and str(entry.amount) == "85.50"
    page = client.get(reverse("billing:account", args=[cast.alice.pk]))
    assert "In credit: <strong>$85.50</strong>" in page.content.decode()
    # The entry's date in the product's style ("6 Dec 2026"), with the year, not "Dec 6, 2026"; no weekday, so the
    # amount and balance fit beside it on a phone.
    on = entry.on_date
    assert f"<td>{on.day} {on:%b %Y}</td>" in page.content.decode()


def test_a_payment_of_a_bad_amount_is_refused_with_a_message_and_nothing_is_written(priced):
    client = signed_in_client(priced.admin)
    url = reverse("billing:payment", args=[priced.alice.pk])
    for amount in ("-5", "0", "1.005", "99999999"):
        response = client.post(url, {"amount": amount, "method": "cash", "on_date": TODAY.isoformat()})
        assert response.status_code == 400
        assert 'class="error"' in response.content.decode()
    assert not AccountEntry.objects.exists()


def test_a_refund_beyond_the_payment_is_refused_on_the_page(priced):
    cast = priced
    payment = paid(cast, "40.00")
    url = reverse("billing:refund", args=[cast.alice.pk, payment.pk])
    response = signed_in_client(cast.admin).post(url, {"amount": "41", "method": "card", "reason": "x"})
    assert response.status_code == 400
    assert "Only 40.00 of this 40.00 payment is left to refund" in response.content.decode()
    assert AccountEntry.objects.count() == 1


def test_a_clinician_on_the_team_reads_the_account_without_the_forms_that_record_money(priced):
    paid(priced)
    page = signed_in_client(priced.bob).get(reverse("billing:account", args=[priced.alice.pk])).content.decode()
    assert "$100.00" in page and "Record a payment" not in page


def test_billing_staff_never_see_a_psychotherapy_note(priced):
    cast = priced
    integration.psychotherapy_note_add(actor=cast.therapist, patient=cast.alice, text="PROCESS-NOTE-SECRET")
    paid(cast)
    admin = signed_in_client(cast.admin)
    for name, args in [
        ("billing:account", [cast.alice.pk]),
        ("billing:visit_superbill", [cast.alice.pk, cast.dosing_session().pk]),
        ("billing:estimate", [cast.alice.pk]),
    ]:
        assert "PROCESS-NOTE-SECRET" not in admin.get(reverse(name, args=args)).content.decode()
    assert admin.get(reverse("integration:psychotherapy_notes", args=[cast.alice.pk])).status_code == 403


def test_a_superbill_without_a_diagnosis_says_what_is_missing(priced):
    cast = priced
    identify_practice(cast)
    cast.alice.diagnoses.all().delete()
    session = cast.dosing_session()
    services.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    page = signed_in_client(cast.admin).get(reverse("billing:visit_superbill", args=[cast.alice.pk, session.pk]))
    text = page.content.decode()
    assert "Not ready to give to an insurer" in text and "No diagnosis on the patient&#x27;s record" in text


def test_a_complete_superbill_lists_codes_diagnoses_npis_and_renders_as_a_pdf(priced):
    cast = priced
    identify_practice(cast)
    session = cast.dosing_session()
    services.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    paid(cast, "270.00", session=session)
    client = signed_in_client(cast.admin)
    page = client.get(reverse("billing:visit_superbill", args=[cast.alice.pk, session.pk])).content.decode()
    assert "Not ready" not in page
    for shown in ("99213", "90833", "F33.2", "1234567893", "NY MD-1", "12-3456789", "11 Office", "$270.00"):
        assert shown in page
    pdf = client.get(reverse("billing:visit_superbill_pdf", args=[cast.alice.pk, session.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_the_statement_and_a_period_superbill_render_as_pdfs(priced):
    cast = priced
    services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", on_date=TODAY)
    client = signed_in_client(cast.bob)
    statement = client.get(reverse("billing:statement_pdf", args=[cast.alice.pk]))
    assert statement.content.startswith(b"%PDF")
    url = reverse("billing:period_superbill_pdf", args=[cast.alice.pk])
    assert client.get(url, {"start": TODAY.isoformat(), "end": TODAY.isoformat()}).content.startswith(b"%PDF")
    backwards = client.get(url, {"start": TODAY.isoformat(), "end": (TODAY - datetime.timedelta(days=1)).isoformat()})
    assert backwards.status_code == 400 and "ends before it starts" in backwards.content.decode()


def test_a_patient_sees_their_own_account_and_superbill_but_not_another_patients(priced):
    cast = priced
    session = cast.dosing_session()
    services.visit_charges_add(actor=cast.admin, patient=cast.alice, session=session)
    alice = signed_in_client(cast.alice_user)
    page = alice.get(reverse("billing:my_account")).content.decode()
    assert "You owe <strong>$270.00</strong>" in page
    assert alice.get(reverse("billing:my_superbill_pdf", args=[session.pk])).content.startswith(b"%PDF")
    dana = signed_in_client(cast.dana_user)
    assert "$270.00" not in dana.get(reverse("billing:my_account")).content.decode()
    assert dana.get(reverse("billing:my_superbill_pdf", args=[session.pk])).status_code == 404


def test_the_aging_list_settles_the_oldest_charges_first(priced):
    cast = priced
    services.charge_add(actor=cast.admin, patient=cast.alice, code="99213", on_date=TODAY - datetime.timedelta(days=95))
    services.charge_add(actor=cast.admin, patient=cast.alice, code="90853", on_date=TODAY - datetime.timedelta(days=40))
    services.charge_add(actor=cast.admin, patient=cast.alice, code="90834", on_date=TODAY - datetime.timedelta(days=3))
    paid(cast, "200.00")  # settles the 150 from 95 days ago and 50 of the 80 from 40 days ago
    page = signed_in_client(cast.admin).get(reverse("billing:aging"))
    row = page.context["rows"][0]
    assert [str(amount) for amount in row.buckets] == ["140.00", "30.00", "0.00", "0.00"]


def test_the_accountants_export_names_patients_by_record_number_only(priced):
    cast = priced
    paid(cast, "100.00", reference="=HYPERLINK(1)")
    response = signed_in_client(cast.admin).get(
        reverse("billing:export"), {"start": TODAY.isoformat(), "end": TODAY.isoformat()}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["record_number"] == cast.alice.record_number and rows[0]["signed_amount"] == "-100.00"
    assert rows[0]["reference"] == "'=HYPERLINK(1)"
    assert "Alice" not in response.content.decode()


def test_fees_are_set_by_billing_staff_and_a_bad_fee_is_refused(priced):
    client = signed_in_client(priced.admin)
    assert client.post(reverse("billing:fees"), {"code": "90837", "amount": "190", "reason": "new"}).status_code == 302
    refused = client.post(reverse("billing:fees"), {"code": "90837", "amount": "-1", "reason": "oops"})
    assert refused.status_code == 400


def test_a_clinicians_npi_with_a_wrong_check_digit_is_refused(priced):
    url = reverse("billing:clinician", args=[priced.nurse.pk])
    response = signed_in_client(priced.admin).post(
        url, {"npi": "1234567890", "licence_number": "", "licence_state": ""}
    )
    assert response.status_code == 400 and "not a valid NPI" in response.content.decode()


def test_the_good_faith_estimate_prices_the_course_templates_planned_services(priced):
    cast = priced
    identify_practice(cast)
    cast.dosing_session()  # alice is in a journey-clinical-style group: 2 preparation, 6 dosing, 6 integration
    client = signed_in_client(cast.admin)
    estimate = client.get(reverse("billing:estimate", args=[cast.alice.pk])).context["estimate"]
    by_code = {(line.visit, line.code): line for line in estimate.lines}
    assert by_code[("Ketamine sessions (dosing)", "99213")].quantity == 6
    assert by_code[("Preparation sessions", "90834")].total == 2 * 140
    assert "not a contract" in " ".join(estimate.disclaimers)
    assert (estimate.practice.name, estimate.practice.npi) == ("Synthetic KAP Practice", "1234567893")
    assert client.get(reverse("billing:estimate_pdf", args=[cast.alice.pk])).content.startswith(b"%PDF")


def test_the_estimate_offers_the_course_templates_only_to_a_patient_in_no_group(priced):
    cast = priced
    template, starts_on, offered = selectors.estimate_course(cast.alice)
    assert (template, starts_on) == (None, None) and "journey-clinical-style" in offered
    chosen, _, _ = selectors.estimate_course(cast.alice, "journey-clinical-style")
    assert chosen is offered["journey-clinical-style"]
    session = cast.dosing_session()
    template, starts_on, offered = selectors.estimate_course(cast.alice)
    assert template is not None and template.id == session.group.template_id
    assert starts_on == session.group.start_date and offered == {}


def test_the_good_faith_estimate_uses_the_same_number_of_queries_as_the_practice_and_account_grow(priced):
    cast = priced
    identify_practice(cast)
    session = cast.dosing_session()
    client = signed_in_client(cast.bob)
    url = reverse("billing:estimate", args=[cast.alice.pk])
    paid(cast)  # the account exists (an account never billed is not read)
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    for number in range(3):
        patient = make_patient(f"Other{number}", "Patient", team=[cast.bob])
        Enrolment.objects.create(group=session.group, patient=patient, status=Enrolment.Status.ENROLLED)
        paid(cast, amount=f"{10 + number}.00")
    with CaptureQueriesContext(connection) as second:
        assert client.get(url).status_code == 200
    assert len(second) == len(first)
    # The practice's billing settings (its identity, the services billed) are read together.
    assert len([q for q in second if "practice_practicesetting" in q["sql"]]) == 1
    # The estimate shows neither the account's entries nor the visits: it reads neither.
    assert not [q for q in second if "billing_accountentry" in q["sql"] or "program_groupsession" in q["sql"]]


def test_no_good_faith_estimate_for_a_patient_whose_insurer_is_billed(priced):
    cast = priced
    services.self_pay_set(actor=cast.admin, patient=cast.alice, self_pay=False)
    client = signed_in_client(cast.admin)
    assert (
        "no Good Faith Estimate is due"
        in client.get(reverse("billing:estimate", args=[cast.alice.pk])).content.decode()
    )
    assert client.get(reverse("billing:estimate_pdf", args=[cast.alice.pk])).status_code == 302


def test_every_control_on_the_account_page_has_its_own_id_and_label(priced):
    page = signed_in_client(priced.admin).get(reverse("billing:account", args=[priced.alice.pk])).content.decode()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for control_id in re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page):
        assert f'<label for="{control_id}"' in page


def test_the_account_pages_read_the_account_with_the_patient_and_the_visits_once(priced):
    cast = priced
    cast.dosing_session()  # alice's group has its sessions
    paid(cast)
    for client, url in [
        (signed_in_client(cast.bob), reverse("billing:account", args=[cast.alice.pk])),
        (signed_in_client(cast.admin), reverse("billing:account", args=[cast.alice.pk])),
        (signed_in_client(cast.alice_user), reverse("billing:my_account")),
    ]:
        client.get(url)
        with CaptureQueriesContext(connection) as read:
            assert client.get(url).status_code == 200
        queries = [q["sql"] for q in read]
        assert not [q for q in queries if 'FROM "billing_patientaccount"' in q]
        assert len([q for q in queries if 'FROM "program_groupsession"' in q]) == 1
        assert not [q for q in queries if "program_groupsession_facilitators" in q]


def test_the_portal_offers_superbills_only_for_visits_that_have_begun(priced):
    cast = priced
    held = cast.dosing_session()
    later = GroupSession.objects.create(
        group=held.group,
        kind=GroupSession.Kind.INTEGRATION,
        number=1,
        starts_at=held.starts_at + datetime.timedelta(days=14),
        ends_at=held.starts_at + datetime.timedelta(days=14, hours=1),
        room=held.room,
    )
    page = signed_in_client(cast.alice_user).get(reverse("billing:my_account")).content.decode()
    assert reverse("billing:my_superbill_pdf", args=[held.pk]) in page
    assert reverse("billing:my_superbill_pdf", args=[later.pk]) not in page
    staff_page = signed_in_client(cast.admin).get(reverse("billing:account", args=[cast.alice.pk])).content.decode()
    assert reverse("billing:visit_superbill", args=[cast.alice.pk, later.pk]) in staff_page


def test_a_patients_account_puts_the_amount_and_balance_before_the_details_that_wrap(cast, client_for):
    page = client_for(cast.alice_user).get(reverse("billing:my_account")).content.decode()
    head = '<th scope="col">Date</th><th scope="col">Entry</th><th scope="col">Amount</th><th scope="col">Balance</th>'
    assert head in page and '<th scope="col">Details</th>' not in page
