"""Screening page actions (override, consultation log and reply files, paper consent), the portal's pre-intake and
consent signing, and constant query counts on the list and patient pages."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kapstone.screening import forms, services
from kapstone.screening.consent_forms import current_form
from kapstone.screening.models import (
    ConsentSignature,
    Consultation,
    ConsultationOverride,
    IntakeVersion,
    ScreeningOverride,
)
from kapstone.screening.uploads import MAX_REPLY_BYTES
from tests.conftest import make_patient, signed_in_client
from tests.screening import helpers

pytestmark = pytest.mark.django_db

JUSTIFICATION = "Bipolar I, euthymic for 4 years on lithium; outside psychiatrist agrees; mood monitored weekly."


def patient_url(name, cast):
    return reverse(name, kwargs={"patient_id": cast.alice.pk})


# --- override ----------------------------------------------------------------------------------------------------


def test_a_prescriber_sees_the_override_form_and_records_an_override(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    client = signed_in_client(cast.bob)
    assert "Record the override" in client.get(patient_url("screening:patient", cast)).text
    response = client.post(
        reverse("screening:override", kwargs={"result_id": result.pk}), {"justification": JUSTIFICATION}
    )
    assert response.status_code == 302
    assert ScreeningOverride.objects.get(result=result).prescriber == cast.bob
    page = client.get(patient_url("screening:patient", cast)).text
    assert "Overridden" in page and JUSTIFICATION in page
    # The decision's heading says it was overridden beside "needs review", as the gate above it says the patient may join.
    heading = page[page.index('<h2 id="decision-h">') :]
    assert '<span class="badge ok">overridden</span></h2>' in heading[: heading.index("</h2>") + 5]


def test_a_nurse_sees_no_override_form(cast):
    helpers.screen(cast, helpers.needs_review_intake())
    page = signed_in_client(cast.nurse).get(patient_url("screening:patient", cast)).text
    assert "Record the override" not in page and "A prescriber on the care team may override" in page


def test_a_short_justification_is_shown_back_with_the_rule(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    response = signed_in_client(cast.bob).post(
        reverse("screening:override", kwargs={"result_id": result.pk}), {"justification": "looks fine"}
    )
    assert response.status_code == 400
    assert "at least 40 characters" in response.text
    assert not ScreeningOverride.objects.exists()


def test_overriding_not_eligible_through_the_page_is_refused(cast):
    _, result = helpers.screen(cast, helpers.not_eligible_intake())
    response = signed_in_client(cast.bob).post(
        reverse("screening:override", kwargs={"result_id": result.pk}), {"justification": JUSTIFICATION}
    )
    assert response.status_code == 400 and "cannot be overridden" in response.text
    assert not ScreeningOverride.objects.exists()


def test_an_outsider_prescriber_cannot_override_alices_result(cast):
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    response = signed_in_client(cast.charlie).post(
        reverse("screening:override", kwargs={"result_id": result.pk}), {"justification": JUSTIFICATION}
    )
    assert response.status_code == 404 and not ScreeningOverride.objects.exists()


# --- consultation and reply files --------------------------------------------------------------------------------


def consultation_post(**extra) -> dict:
    return {
        "clinician_name": "Dr. Rivera, Northside Psychiatry",
        "staff": "",
        "contacted_at": (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "method": "phone",
        "outcome": "supports",
        "notes": "Supports KAP.",
        **extra,
    }


def test_staff_log_a_contact_with_an_attached_pdf_reply_and_download_it(cast):
    client = signed_in_client(cast.nurse)
    reply = SimpleUploadedFile("Alice-Abernathy-letter.pdf", helpers.PDF_BYTES, content_type="application/pdf")
    response = client.post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.nurse.pk, reply_file=reply)
    )
    assert response.status_code == 302
    entry = Consultation.objects.get()
    assert entry.staff == cast.nurse and entry.reply_content_type == "application/pdf"
    download = signed_in_client(cast.bob).get(reverse("screening:reply", kwargs={"consultation_id": entry.pk}))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == helpers.PDF_BYTES
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;") and "Alice" not in download["Content-Disposition"]


def test_a_reply_is_not_served_to_staff_outside_the_care_team(cast):
    entry = helpers.consult(cast, with_reply=True)
    response = signed_in_client(cast.charlie).get(reverse("screening:reply", kwargs={"consultation_id": entry.pk}))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reply.pdf", b"MZ\x90\x00\x03\x00\x00\x00 not a pdf", "this file&#x27;s content is none of those"),
        ("reply.txt", b"\xff\xfe\x00\x00 binary", "this file&#x27;s content is none of those"),
        ("reply.pdf", b"", "The submitted file is empty."),
    ],
)
def test_a_reply_of_the_wrong_kind_is_refused_by_content(cast, name, content, message):
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.bob.pk, reply_file=upload)
    )
    assert response.status_code == 400 and message in response.text
    assert not Consultation.objects.exists()


def test_a_reply_over_five_megabytes_is_refused(cast):
    upload = SimpleUploadedFile("big.txt", b"a" * (MAX_REPLY_BYTES + 1), content_type="text/plain")
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.bob.pk, reply_file=upload)
    )
    assert response.status_code == 400 and "the limit is 5 MB" in response.text


@pytest.mark.parametrize(
    ("magic", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"Thank you, we support", "text/plain"),
    ],
)
def test_png_jpeg_and_text_replies_are_accepted(cast, magic, content_type):
    upload = SimpleUploadedFile("reply.bin", magic + b" synthetic", content_type="application/octet-stream")
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.bob.pk, reply_file=upload)
    )
    assert response.status_code == 302
    assert Consultation.objects.get().reply_content_type == content_type


def test_a_contact_without_anyone_named_is_a_clear_error(cast):
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.bob.pk, clinician_name="")
    )
    assert response.status_code == 400 and "Choose the outside clinician, or type who was contacted." in response.text


def test_the_contact_form_chooses_no_outcome_for_the_person_logging_it(cast):
    page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast)).text
    outcome = page[page.index('name="outcome"') : page.index("</select>", page.index('name="outcome"'))]
    assert '<option value="" selected>Choose the outcome</option>' in outcome
    assert 'value="supports" selected' not in outcome


def test_a_contact_logged_without_its_outcome_is_refused_and_does_not_pass_the_gate(cast):
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast), consultation_post(staff=cast.bob.pk, outcome="")
    )
    assert response.status_code == 400 and "“Outcome” is required: choose one." in response.text
    assert not Consultation.objects.exists()


# --- consent at the practice -------------------------------------------------------------------------------------


# --- outside advice --------------------------------------------------------------------------------------------

ADVICE_REASON = "Their concern was blood pressure; three normal readings, and we check BP at 40 minutes."


def advice_url(entry):
    return reverse("screening:advice_override", kwargs={"consultation_id": entry.pk})


def test_a_prescriber_overrides_advice_against_on_the_screening_page(cast):
    helpers.screen(cast)
    helpers.sign_consent(cast)
    entry = helpers.consult(cast, outcome=Consultation.Outcome.ADVISED_AGAINST)
    client = signed_in_client(cast.bob)
    page = client.get(patient_url("screening:patient", cast)).text
    assert "Advised against KAP" in page and "Override this advice" in page and "cannot join a group yet" in page
    response = client.post(advice_url(entry), {f"advice-{entry.pk}-reason": ADVICE_REASON})
    assert response.status_code == 302
    assert ConsultationOverride.objects.get().prescriber == cast.bob
    page = client.get(patient_url("screening:patient", cast)).text
    assert "Overridden" in page and ADVICE_REASON in page and "may join a group" in page


def test_a_nurse_sees_the_advice_but_no_override_form_and_cannot_post_one(cast):
    entry = helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS)
    client = signed_in_client(cast.nurse)
    page = client.get(patient_url("screening:patient", cast)).text
    assert "Raised concerns" in page and "Override this advice" not in page
    assert client.post(advice_url(entry), {f"advice-{entry.pk}-reason": ADVICE_REASON}).status_code == 403
    assert not ConsultationOverride.objects.exists()


def test_an_outsider_prescriber_cannot_override_alices_advice(cast):
    entry = helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS)
    response = signed_in_client(cast.charlie).post(advice_url(entry), {f"advice-{entry.pk}-reason": ADVICE_REASON})
    assert response.status_code == 404
    assert not ConsultationOverride.objects.exists()


def test_a_short_reason_for_an_advice_override_is_sent_back_and_nothing_is_saved(cast):
    entry = helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS)
    response = signed_in_client(cast.bob).post(advice_url(entry), {f"advice-{entry.pk}-reason": "ok"})
    assert response.status_code == 400
    assert "at least" in response.text
    assert not ConsultationOverride.objects.exists()


def test_overriding_supportive_advice_is_refused_with_a_message(cast):
    entry = helpers.consult(cast)
    response = signed_in_client(cast.bob).post(advice_url(entry), {f"advice-{entry.pk}-reason": ADVICE_REASON})
    assert response.status_code == 400
    assert (
        "Only concerns or advice against KAP, or a contact that had no reply or that the clinician declined, can be"
        in (response.text)
    )
    assert not ConsultationOverride.objects.exists()


def test_the_screening_page_draws_its_forms_and_the_consent_form_as_their_templates_do(cast):
    """The view draws them in Python (formrender.drawn_fields, views._consent_text) where the page included them."""
    helpers.screen(cast, helpers.needs_review_intake())
    helpers.sign_consent(cast)
    entry = helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS)
    client = signed_in_client(cast.bob)
    page = client.get(patient_url("screening:patient", cast)).text
    drawn = [
        forms.OverrideForm(),
        forms.AdviceOverrideForm(prefix=f"advice-{entry.pk}"),
        forms.StaffWithdrawForm(),
    ]
    for form in drawn:
        assert render_to_string("includes/form_fields.html", {"form": form}) in page
    consent_text = render_to_string("screening/_consent_text.html", {"consent_form": current_form(), "title_level": 3})
    assert consent_text in page
    # Under the page's "Informed consent" heading: the form's title one level below it, its sections below that.
    assert page.count("<h1") == 1 and '<h3 id="consent-title">' in consent_text and "<h4>" in consent_text
    # A form sent back keeps its input and errors, drawn as the template drew them.
    sent_back = forms.AdviceOverrideForm({f"advice-{entry.pk}-reason": "ok"}, prefix=f"advice-{entry.pk}")
    response = client.post(advice_url(entry), {f"advice-{entry.pk}-reason": "ok"})
    assert response.status_code == 400
    assert render_to_string("includes/form_fields.html", {"form": sent_back}) in response.text


def test_staff_record_a_paper_consent_and_withdraw_it(cast):
    client = signed_in_client(cast.nurse)
    when = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(patient_url("screening:consent_paper", cast), {"signed_name": "A. Abernathy", "signed_at": when})
    assert bad.status_code == 400 and "full name on the record" in bad.text
    good = client.post(
        patient_url("screening:consent_paper", cast), {"signed_name": "Alice Abernathy", "signed_at": when}
    )
    assert good.status_code == 302
    signature = ConsentSignature.objects.get()
    assert signature.kind == "paper" and signature.recorded_by == cast.nurse
    client.post(
        reverse("screening:consent_withdraw", kwargs={"signature_id": signature.pk}),
        {"reason": "Told me in clinic", "confirm": "yes"},
    )
    signature.refresh_from_db()
    assert signature.is_withdrawn


def test_staff_withdrawing_a_consent_are_asked_to_confirm_on_a_page_that_says_what_follows(cast):
    signature = helpers.sign_consent(cast)
    client = signed_in_client(cast.nurse)
    url = reverse("screening:consent_withdraw", kwargs={"signature_id": signature.pk})
    asked = client.post(url, {"reason": "By phone to the nurse"})
    assert asked.status_code == 200 and "Withdraw Alice Abernathy's consent?" in asked.text
    assert "the dosing room gives them no dose" in asked.text and "alert queue" in asked.text
    assert 'name="confirm" value="yes"' in asked.text and "By phone to the nurse</textarea>" in asked.text
    signature.refresh_from_db()
    assert not signature.is_withdrawn
    done = client.post(url, {"reason": "By phone to the nurse", "confirm": "yes"})
    assert done.status_code == 302
    signature.refresh_from_db()
    assert signature.is_withdrawn and signature.withdrawal_reason == "By phone to the nurse"
    assert "consent is withdrawn and the care team is alerted" in client.get(done.url).text


@pytest.mark.parametrize("confirm", ["", "yes"])
def test_staff_cannot_withdraw_a_consent_without_saying_how_the_patient_told_them(cast, confirm):
    signature = helpers.sign_consent(cast)
    url = reverse("screening:consent_withdraw", kwargs={"signature_id": signature.pk})
    response = signed_in_client(cast.nurse).post(url, {"reason": "   ", "confirm": confirm})
    assert response.status_code == 400
    assert "Say how the patient told you they are withdrawing: nothing is changed until you do." in response.text
    signature.refresh_from_db()
    assert not signature.is_withdrawn


# --- the portal --------------------------------------------------------------------------------------------------


def pre_intake_post(**extra) -> dict:
    from kapstone.screening.forms import MEDICAL_QUESTIONS, PSYCHIATRIC_QUESTIONS

    return {
        "indications": ["depression", "anxiety"],
        **{f"psychiatric__{name}": "no" for name in PSYCHIATRIC_QUESTIONS},
        **{f"medical__{name}": "no" for name in MEDICAL_QUESTIONS},
        "medical__hypertension": "unsure",
        "medications": "sertraline 100 mg\nsomething for sleep",
        "other_treatments": ["tms"],
        "substance_use": "",
        "medicines-TOTAL_FORMS": "4",
        "medicines-INITIAL_FORMS": "0",
        "medicines-0-drug": "escitalopram",
        "medicines-0-weeks": "10",
        "medicines-0-response": "no_response",
        "therapies-TOTAL_FORMS": "2",
        "therapies-INITIAL_FORMS": "0",
        "therapies-0-modality": "CBT",
        "therapies-0-sessions": "12",
        "therapies-0-response": "partial_response",
        **extra,
    }


def test_a_patient_sends_a_pre_intake_that_staff_then_complete(cast):
    client = signed_in_client(cast.alice_user)
    assert client.get(reverse("screening:portal_pre_intake")).status_code == 200
    response = client.post(reverse("screening:portal_pre_intake"), pre_intake_post())
    assert response.status_code == 302
    draft = IntakeVersion.objects.get(patient=cast.alice)
    assert draft.source == "patient" and not draft.is_complete and draft.author == cast.alice_user
    assert "hypertension" not in draft.data["medical"]  # "not sure" is left for staff to ask
    assert draft.data["medications"] == [
        {"name": "sertraline", "dose_mg_per_day": 100},
        {"name": "something for sleep"},
    ]
    assert draft.data["prior_treatments"]["tms"] == [{}]
    staff_page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast)).text
    assert "The patient sent a pre-intake" in staff_page
    form = signed_in_client(cast.bob).get(patient_url("screening:intake", cast)).text
    assert 'value="escitalopram"' in form and 'value="sertraline"' in form and "Patient (pre-intake)" in form


def test_a_pre_intake_without_an_indication_is_sent_back(cast):
    response = signed_in_client(cast.alice_user).post(
        reverse("screening:portal_pre_intake"), pre_intake_post(indications=[])
    )
    assert response.status_code == 400
    assert "Choose at least one answer to “What would you like help with?”" in response.text
    assert not IntakeVersion.objects.exists()


def test_a_patient_signs_consent_in_the_portal_with_their_ip_recorded(cast):
    client = signed_in_client(cast.alice_user)
    page = client.get(reverse("screening:portal_consent")).text
    assert "off-label" in page and "No driving until the next day" in page and "right to withdraw" in page
    wrong = client.post(reverse("screening:portal_consent"), {"typed_name": "Dana Delacroix", "understood": "on"})
    assert wrong.status_code == 400 and "full name on the record" in wrong.text
    unticked = client.post(reverse("screening:portal_consent"), {"typed_name": "Alice Abernathy"})
    assert unticked.status_code == 400
    response = client.post(
        reverse("screening:portal_consent"),
        {"typed_name": "Alice Abernathy", "understood": "on"},
        REMOTE_ADDR="192.0.2.8",
    )
    assert response.status_code == 302
    signature = ConsentSignature.objects.get(patient=cast.alice)
    assert signature.ip_address == "192.0.2.8" and signature.kind == "electronic"
    assert "Signed" in client.get(reverse("screening:portal")).text


def test_the_consent_page_is_titled_by_the_form_and_its_sections_sit_under_that_title(cast):
    """The consent form's title is the page's one level-one heading, so a screen reader's heading list starts there
    rather than at "Sign"."""
    page = signed_in_client(cast.alice_user).get(reverse("screening:portal_consent")).text
    assert page.count("<h1") == 1 and '<h1 id="consent-title">' in page
    assert "<h3" not in page


def test_the_consent_form_names_its_sources_as_references_not_as_bibliography_ids(cast):
    page = signed_in_client(cast.alice_user).get(reverse("screening:portal_consent")).text
    assert "[seed-practice]" not in page and "[spravato-pi]" not in page
    assert "SPRAVATO (esketamine) nasal spray, Prescribing Information" in page


def test_a_patient_withdraws_their_consent(cast):
    helpers.sign_consent(cast)
    client = signed_in_client(cast.alice_user)
    response = client.post(reverse("screening:portal_consent_withdraw"), {"reason": "", "confirm": "yes"})
    assert response.status_code == 302
    assert ConsentSignature.objects.get().is_withdrawn
    page = client.get(response.url).text
    assert "your care team has been told" in page
    assert "You withdrew your consent on" in page and "Read and sign the consent form" in page


def test_the_portal_says_what_follows_a_withdrawal_before_the_patient_withdraws(cast):
    """What it says is what the code does: the gate closes (screening.gate), an alert is raised (a safety event),
    and nothing else (an enrolment, reminders, questionnaires, messages) is changed by it."""
    helpers.sign_consent(cast)
    client = signed_in_client(cast.alice_user)
    portal = client.get(reverse("screening:portal")).text
    assert f'href="{reverse("screening:portal_consent_withdraw")}"' in portal
    page = client.get(reverse("screening:portal_consent_withdraw")).text
    assert "Withdraw your consent?" in page
    assert "What withdrawing does" in page and "What it does not stop" in page
    assert "Your care team is told straight away" in page
    assert "You will not be given ketamine while your consent is withdrawn" in page
    assert "Your place in a group you are already in is not cancelled" in page
    assert "You can consent again at any time" in page
    assert not ConsentSignature.objects.get().is_withdrawn


def test_a_withdrawal_without_the_confirmation_only_asks_and_changes_nothing(cast):
    helpers.sign_consent(cast)
    response = signed_in_client(cast.alice_user).post(reverse("screening:portal_consent_withdraw"), {"reason": "x"})
    assert response.status_code == 200 and "What it does not stop" in response.text
    assert not ConsentSignature.objects.get().is_withdrawn


def test_a_reason_too_long_is_sent_back_with_what_to_do_and_changes_nothing(cast):
    helpers.sign_consent(cast)
    response = signed_in_client(cast.alice_user).post(
        reverse("screening:portal_consent_withdraw"), {"reason": "x" * 1001, "confirm": "yes"}
    )
    assert response.status_code == 400 and "keep the reason to 1,000 characters at most" in response.text
    assert not ConsentSignature.objects.get().is_withdrawn


def test_with_no_signed_consent_the_withdrawal_page_says_so(cast):
    client = signed_in_client(cast.alice_user)
    response = client.get(reverse("screening:portal_consent_withdraw"))
    assert response.status_code == 302
    assert "There is no signed consent to withdraw." in client.get(response.url).text


def test_a_second_withdrawal_that_loses_the_race_is_explained_not_a_server_error(cast, monkeypatch):
    from kapstone.screening import selectors, services

    helpers.sign_consent(cast)
    read_before_the_first_click_landed = selectors.portal_screening

    def overview_then_the_other_click_withdraws(*, patient):
        overview = read_before_the_first_click_landed(patient=patient)
        services.consent_withdraw(actor=cast.alice_user, signature=overview["consent"])
        return overview

    monkeypatch.setattr(selectors, "portal_screening", overview_then_the_other_click_withdraws)
    client = signed_in_client(cast.alice_user)
    response = client.post(reverse("screening:portal_consent_withdraw"), {"reason": "", "confirm": "yes"})
    assert response.status_code == 302
    monkeypatch.undo()
    assert "already withdrawn" in client.get(response.url).text


def test_the_portal_shows_each_patient_only_their_own_consent(cast):
    helpers.sign_consent(cast)
    page = signed_in_client(cast.dana_user).get(reverse("screening:portal")).text
    assert "Read and sign the consent form" in page
    signed_in_client(cast.dana_user).post(reverse("screening:portal_consent_withdraw"), {"confirm": "yes"})
    assert not ConsentSignature.objects.get().is_withdrawn


# --- query counts ------------------------------------------------------------------------------------------------


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_screening_list_runs_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.bob)
    url = reverse("screening:list")
    helpers.screen(cast)
    few = _count_queries(client, url)
    for index in range(6):
        patient = make_patient(f"Extra{index}", "Screened", team=[cast.bob])
        helpers.screen(cast, helpers.needs_review_intake(), patient=patient)
    assert _count_queries(client, url) == few
    assert _count_queries(client, url + "?decision=needs_review") == few


def test_the_screening_list_built_for_a_user_sees_each_change_at_once(cast):
    """Its query is built once for each user (screening.selectors._screening_listing): the rows are read afresh."""
    from kapstone.screening import selectors

    def listed(decision=""):
        page = selectors.screening_list(user=cast.bob, decision=decision)
        return {patient.pk: patient.screening_decision for patient in page.object_list}

    before = listed()
    joined = make_patient("Newly", "Joined", team=[cast.bob])
    assert listed() == {**before, joined.pk: None}
    helpers.screen(cast, helpers.needs_review_intake(), patient=joined)
    assert listed()[joined.pk] == "needs_review"
    assert joined.pk in listed("needs_review") and joined.pk not in listed("none")
    joined.care_team_memberships.all().delete()
    assert listed() == before
    # What a user may see follows their role: a clinician who becomes a researcher sees no patient.
    cast.bob.role = cast.researcher.role
    assert listed() == {}


def test_the_screening_page_compiled_once_reads_the_patients_own_rows_afresh(cast):
    """Its reads are compiled once a process (screening.selectors, kapstone.compiled_once) with the patient bound to
    each: a page shows its own patient's rows as they are now, never another's."""
    other = make_patient("Otto", "Other", team=[cast.bob])
    client = signed_in_client(cast.bob)
    url = patient_url("screening:patient", cast)
    assert "Not screened yet." in client.get(url).text
    helpers.screen(cast, helpers.needs_review_intake(), patient=other)
    helpers.consult(cast, other, outcome=Consultation.Outcome.CONCERNS)
    services.consent_record_paper(
        actor=cast.nurse, patient=other, signed_name=other.full_name, signed_at=timezone.now()
    )
    page = client.get(url).text
    assert "Not screened yet." in page and "No contact logged yet." in page and "Not signed yet." in page
    helpers.screen(cast, helpers.needs_review_intake())
    helpers.consult(cast)
    helpers.sign_consent(cast)
    page = client.get(url).text
    assert "Not screened yet." not in page and "Discussed KAP; supportive." in page and "In force" in page


def test_the_screening_list_pages_hold_the_rows_the_paginator_slices(cast, monkeypatch):
    """Its rows are read by a read compiled for each page (selectors._listed), not the paginator's own slice."""
    from kapstone.screening import selectors

    monkeypatch.setattr(selectors, "PATIENTS_PER_PAGE", 4)
    for index in range(7):
        make_patient(f"Paged{index}", f"Zz{index}", team=[cast.bob])
    every = list(selectors._decided(cast.bob, "").values_list("pk", flat=True))
    pages = {
        number: selectors.screening_list(user=cast.bob, page_number=number) for number in ("1", "2", "3", "99", "x")
    }
    assert [p.pk for p in pages["1"].object_list] == every[:4]
    assert [p.pk for p in pages["2"].object_list] == every[4:8]
    last = (len(every) - 1) // 4 + 1
    assert [p.pk for p in pages["99"].object_list] == every[(last - 1) * 4 :] and pages["99"].number == last
    assert [p.pk for p in pages["x"].object_list] == every[:4]


def test_the_patient_screening_page_runs_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.bob)
    url = patient_url("screening:patient", cast)
    _, result = helpers.screen(cast, helpers.needs_review_intake())
    helpers.consult(cast, with_reply=True)
    helpers.sign_consent(cast)
    few = _count_queries(client, url)
    services.override_record(actor=cast.bob, result=result, justification=JUSTIFICATION)
    for _ in range(4):
        helpers.screen(cast)
        helpers.screen(cast, helpers.needs_review_intake())
        helpers.consult(cast)
        services.consultation_override_record(
            actor=cast.bob,
            consultation=helpers.consult(cast, outcome=Consultation.Outcome.CONCERNS),
            reason=JUSTIFICATION,
        )
        helpers.consult(cast, outcome=Consultation.Outcome.ADVISED_AGAINST)
    services.consent_withdraw(actor=cast.alice_user, signature=ConsentSignature.objects.get())
    # A witnessed paper signature names its witness; withdrawn, it is one more row of the history.
    paper = services.consent_record_paper(
        actor=cast.nurse, patient=cast.alice, signed_name=cast.alice.full_name, signed_at=timezone.now()
    )
    services.consent_withdraw(actor=cast.bob, signature=paper, reason="By phone to the prescriber.")
    helpers.sign_consent(cast)
    page = client.get(url).text
    assert "witness " + cast.nurse.display_name in page and page.count("Overridden</span>") == 4  # the advice
    assert _count_queries(client, url) == few


def test_the_gate_says_until_when_the_screening_is_current(cast):
    helpers.ready_for_enrolment(cast)
    page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast)).text
    expires = timezone.localdate() + datetime.timedelta(days=30)
    assert f"The latest screening is current until {expires:%a} {expires.day} {expires:%b %Y}" in page


def test_the_intake_form_runs_a_constant_number_of_queries(cast):
    client = signed_in_client(cast.bob)
    helpers.screen(cast)
    few = _count_queries(client, patient_url("screening:intake", cast))
    for index in range(4):
        helpers.screen(cast, helpers.needs_review_intake())
        patient = make_patient(f"Other{index}", "Intake", team=[cast.bob])
        helpers.screen(cast, patient=patient)
    assert _count_queries(client, patient_url("screening:intake", cast)) == few


def test_a_contact_dated_before_the_patient_was_born_is_refused_and_nothing_is_logged(cast):
    response = signed_in_client(cast.bob).post(
        patient_url("screening:consultation_add", cast),
        consultation_post(staff=cast.bob.pk, contacted_at="1899-01-01T10:00"),
    )
    assert response.status_code == 400
    assert "The contact time is before the patient was born: check the year." in response.content.decode()
    assert not Consultation.objects.exists()


# --- the benzodiazepine load ----------------------------------------------------------------------------------------


def test_a_load_missing_a_benzodiazepine_is_not_shown_as_a_plain_total(cast):
    """Lorazepam with no daily dose counts as nothing: '0.0 mg/day' alone read as no benzodiazepine at all."""
    helpers.screen(cast, helpers.intake(medications=[{"name": "lorazepam"}]))
    page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast)).text
    assert "0 mg/day diazepam-equivalent <strong>counted so far: incomplete</strong>" in page


def test_a_load_of_converted_doses_is_shown_as_the_total(cast):
    helpers.screen(cast, helpers.intake(medications=[{"name": "lorazepam", "dose_mg_per_day": 1}]))
    page = signed_in_client(cast.bob).get(patient_url("screening:patient", cast)).text
    assert "mg/day diazepam-equivalent</dd>" in page and "counted so far" not in page
    # Written as a prescriber writes a dose (lorazepam 1 mg is 10 mg of diazepam), not as the stored float ("10.0").
    assert "<dd>10 mg/day diazepam-equivalent</dd>" in page
