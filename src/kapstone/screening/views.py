"""Screening pages: the staff screening list and per-patient page (intake, decision, override, consultation log,
consent), and the patient's own pre-intake and consent signing in the portal. Views check input and call one
service or selector; access is decided by roles_required and the selectors' care-team filter (404 otherwise)."""

import functools

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.audit.middleware import client_ip
from kapstone.patients.selectors import patient_for_portal_user
from kapstone.screening import forms, selectors, services
from kapstone.screening.consent_forms import ConsentForm
from kapstone.screening.engine import IntakeValidationError
from kapstone.screening.models import Consultation, Decision

DECISION_FILTERS = [("", "All"), *Decision.choices, ("none", "Not screened")]


def advice_prefix(consultation_id: int) -> str:
    return f"advice-{consultation_id}"


@roles_required(*RECORD_ROLES)
def screening_list(request):
    decision = request.GET.get("decision", "")
    if decision not in dict(DECISION_FILTERS):
        decision = ""
    page = selectors.screening_list(user=request.user, decision=decision, page_number=request.GET.get("page", 1))
    context = {"page": page, "decision": decision, "filters": DECISION_FILTERS}
    return render(request, "screening/screening_list.html", context)


@functools.cache
def _consent_text(consent_form: ConsentForm) -> SafeString:
    """The consent form's words as screening/_consent_text.html draws them, drawn once a process for each form: a
    form is read from its file once (consent_forms.current_form) and never changes, and drawing its sections was a
    share of the screening page (issue 19)."""
    return mark_safe(render_to_string("screening/_consent_text.html", {"consent_form": consent_form, "title_level": 3}))  # noqa: S308 - a template's output


def _screening_page(request, patient, *, status: int = 200, **bound_forms):
    overview = selectors.screening_overview(patient=patient)
    latest = overview["latest"]
    # Each piece of advice a prescriber may override, and each latest contact without an answer from a clinician the
    # gate waits for, gets its own form, so their fields keep distinct ids; a form sent back with errors stays beside
    # the contact it was about.
    bound = bound_forms.get("advice_form")
    for entry in overview["consultations"]:
        if bound is not None and bound.prefix == advice_prefix(entry.pk):
            entry.override_form = bound
        elif request.user.role == Role.PRESCRIBER and not hasattr(entry, "override"):
            if entry.outcome in Consultation.BLOCKING_OUTCOMES:
                entry.override_form = forms.AdviceOverrideForm(prefix=advice_prefix(entry.pk))
            elif entry in overview["gate"].no_answer:
                entry.override_form = forms.WithoutAdviceForm(prefix=advice_prefix(entry.pk))
        if hasattr(entry, "override_form"):
            entry.override_fields = formrender.drawn_fields(entry.override_form)
    can_override = (
        request.user.role == Role.PRESCRIBER
        and latest is not None
        and latest.decision == Decision.NEEDS_REVIEW
        and not hasattr(latest, "override")
    )
    consultation_form = bound_forms.get("consultation_form") or forms.ConsultationForm(
        patient=patient, user=request.user
    )
    # Its outside clinicians and staff each by one plain read, not a server-side cursor's three round trips (issue 19).
    formrender.read_choices_once([consultation_form])
    paper_form = bound_forms.get("paper_form") or forms.PaperConsentForm()
    # Each form's fields drawn in Python, and an unbound form's once for every request that shows the same form
    # (formrender.drawn_fields): the template's include drew them on every request, the withdrawal's once for each
    # signature in force (issue 19).
    context = {
        "patient": patient,
        **overview,
        "can_override": can_override,
        "override_fields": (
            formrender.drawn_fields(bound_forms.get("override_form") or forms.OverrideForm()) if can_override else ""
        ),
        "consultation_form": consultation_form,
        "consultation_fields": formrender.drawn_fields(consultation_form),
        "paper_form": paper_form,
        "paper_fields": formrender.drawn_fields(paper_form),
        "withdraw_fields": formrender.drawn_fields(forms.StaffWithdrawForm()),
        "consent_text": _consent_text(overview["consent_form"]),
    }
    return render(request, "screening/patient_screening.html", context, status=status)


@roles_required(*RECORD_ROLES)
def patient_screening(request, patient_id):
    patient = selectors.screening_patient_get(user=request.user, patient_id=patient_id)
    return _screening_page(request, patient)


@roles_required(*RECORD_ROLES)
def intake_edit(request, patient_id):
    # ?from=record starts the form from the patient record's current medications (the screening page offers it
    # when the record changed since screening); any other value is the plain intake form.
    from_record = request.GET.get("from") == "record"
    patient = selectors.screening_patient_get(
        user=request.user, patient_id=patient_id, purpose="intake from record" if from_record else "intake"
    )
    initial, started_from, record_differences = selectors.intake_initial(patient=patient, from_record=from_record)
    editor = forms.IntakeEditor(
        patient=patient, initial=initial, data=request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and editor.is_valid():
        try:
            version, result = services.intake_save(actor=request.user, patient=patient, data=editor.build())
        except IntakeValidationError as invalid:
            editor.show_errors(invalid.messages)
        except services.ScreeningRefused as refusal:
            editor.problems.append(str(refusal))
        else:
            messages.success(
                request, f"Intake v{version.number} is saved. Screening decision: {result.get_decision_display()}."
            )
            return redirect("screening:patient", patient_id=patient.pk)
    context = {
        "patient": patient,
        "editor": editor,
        "main": editor.main,
        "psychiatric_fields": editor.main.section(forms.IntakeMainForm.PSYCHIATRIC),
        "medical_fields": editor.main.section(forms.IntakeMainForm.MEDICAL),
        "vitals_fields": editor.main.section(forms.IntakeMainForm.VITALS),
        "started_from": started_from,
        "from_record": from_record,
        "record_differences": record_differences,
        "patient_notes": (initial.get("patient_notes") or {}).get("substance_use", ""),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "screening/intake_form.html", context, status=status)


@roles_required(*RECORD_ROLES)
@require_POST
def rescreen(request, patient_id):
    patient = selectors.screening_patient_get(user=request.user, patient_id=patient_id, purpose="rescreen")
    try:
        result = services.screening_run(actor=request.user, patient=patient)
    except services.ScreeningRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Screened again: {result.get_decision_display()}.")
    return redirect("screening:patient", patient_id=patient.pk)


@roles_required(Role.PRESCRIBER)
@require_POST
def override(request, result_id):
    result = selectors.result_get(user=request.user, result_id=result_id)
    patient = selectors.screening_patient_get(user=request.user, patient_id=result.patient_id, purpose="override")
    form = forms.OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.override_record(
                actor=request.user, result=result, justification=form.cleaned_data["justification"]
            )
        except services.ScreeningRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "The override is recorded for this screening result.")
            return redirect("screening:patient", patient_id=patient.pk)
    return _screening_page(request, patient, status=400, override_form=form)


@roles_required(*RECORD_ROLES)
@require_POST
def consultation_add(request, patient_id):
    patient = selectors.screening_patient_get(user=request.user, patient_id=patient_id, purpose="consultation")
    form = forms.ConsultationForm(request.POST, request.FILES, patient=patient, user=request.user)
    if form.is_valid():
        fields = {key: form.cleaned_data[key] for key in form.fields}
        fields["reply_file"] = fields["reply_file"] or None
        try:
            services.consultation_record(actor=request.user, patient=patient, **fields)
        except services.ScreeningRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "The contact with the outside treatment team is logged.")
            return redirect("screening:patient", patient_id=patient.pk)
    return _screening_page(request, patient, status=400, consultation_form=form)


@roles_required(Role.PRESCRIBER)
@require_POST
def advice_override(request, consultation_id):
    entry = selectors.consultation_get(user=request.user, consultation_id=consultation_id)
    patient = selectors.screening_patient_get(user=request.user, patient_id=entry.patient_id, purpose="advice override")
    without_advice = entry.outcome in Consultation.NO_ANSWER_OUTCOMES
    form_class = forms.WithoutAdviceForm if without_advice else forms.AdviceOverrideForm
    form = form_class(request.POST, prefix=advice_prefix(entry.pk))
    if form.is_valid():
        try:
            services.consultation_override_record(
                actor=request.user, consultation=entry, reason=form.cleaned_data["reason"]
            )
        except services.ScreeningRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            if without_advice:
                messages.success(
                    request, f"The decision to go ahead without {entry.clinician_name}'s advice is recorded."
                )
            else:
                messages.success(request, f"The override of {entry.clinician_name}'s advice is recorded.")
            return redirect("screening:patient", patient_id=patient.pk)
    return _screening_page(request, patient, status=400, advice_form=form)


@roles_required(*RECORD_ROLES)
def reply_download(request, consultation_id):
    entry = selectors.reply_file_get(user=request.user, consultation_id=consultation_id)
    try:
        handle = entry.reply_file.open("rb")
    except FileNotFoundError:
        raise Http404("The reply file is missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"reply-{entry.pk}{entry.reply_file.name[entry.reply_file.name.rfind('.') :]}",
        content_type=entry.reply_content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@roles_required(*RECORD_ROLES)
@require_POST
def consent_paper(request, patient_id):
    patient = selectors.screening_patient_get(user=request.user, patient_id=patient_id, purpose="paper consent")
    form = forms.PaperConsentForm(request.POST)
    if form.is_valid():
        try:
            services.consent_record_paper(actor=request.user, patient=patient, **form.cleaned_data)
        except services.ScreeningRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "The witnessed paper consent is recorded.")
            return redirect("screening:patient", patient_id=patient.pk)
    return _screening_page(request, patient, status=400, paper_form=form)


@roles_required(*RECORD_ROLES)
@require_POST
def consent_withdraw(request, signature_id):
    signature = selectors.signature_get(user=request.user, signature_id=signature_id)
    patient = selectors.screening_patient_get(user=request.user, patient_id=signature.patient_id, purpose="consent")
    if signature.is_withdrawn:
        messages.info(request, "This consent is already withdrawn.")
        return redirect("screening:patient", patient_id=patient.pk)
    form = forms.StaffWithdrawForm(request.POST)
    # Asked on a page of its own with what follows (as deactivating a staff login is): the row's one button sat
    # beside the consent history and closed the enrolment gate at once, with a reason left blank.
    if not form.is_valid() or request.POST.get("confirm") != "yes":
        context = {"patient": patient, "signature": signature, "fields": formrender.form_fields(form)}
        return render(request, "screening/consent_withdraw_confirm.html", context, status=400 if form.errors else 200)
    try:
        services.consent_withdraw(actor=request.user, signature=signature, reason=form.cleaned_data["reason"])
    except services.ScreeningRefused as refusal:  # e.g. withdrawn by another click since the page was drawn
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            f"{patient.full_name}'s consent is withdrawn and the care team is alerted. They cannot be "
            "enrolled or dosed until they sign the consent form again.",
        )
    return redirect("screening:patient", patient_id=patient.pk)


# ---------------------------------------------------------------------------------------------------------------
# The patient's portal


@roles_required(Role.PATIENT)
def portal_screening(request):
    patient = patient_for_portal_user(request.user)
    context = {"patient": patient, **selectors.portal_screening(patient=patient)}
    return render(request, "screening/portal_screening.html", context)


@roles_required(Role.PATIENT)
def portal_pre_intake(request):
    patient = patient_for_portal_user(request.user)
    data = request.POST if request.method == "POST" else None
    form = forms.PreIntakeForm(data)
    medicines = forms.PriorMedicineFormSet(data, prefix="medicines")
    therapies = forms.PriorTherapyFormSet(data, prefix="therapies")
    if request.method == "POST":
        valid = form.is_valid()
        valid = medicines.is_valid() and valid
        valid = therapies.is_valid() and valid
        if valid:
            services.pre_intake_submit(
                actor=request.user, patient=patient, data=forms.pre_intake_data(form, medicines, therapies)
            )
            messages.success(
                request, "Thank you: your answers are with your care team, who will go through them with you."
            )
            return redirect("screening:portal")
    context = {
        "patient": patient,
        "form": form,
        "medicines": medicines,
        "therapies": therapies,
        "psychiatric_fields": form.section(forms.PreIntakeForm.PSYCHIATRIC),
        "medical_fields": form.section(forms.PreIntakeForm.MEDICAL),
    }
    return render(request, "screening/portal_pre_intake.html", context, status=400 if request.method == "POST" else 200)


@roles_required(Role.PATIENT)
def portal_consent(request):
    patient = patient_for_portal_user(request.user)
    overview = selectors.portal_screening(patient=patient)
    form = forms.ConsentSignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_sign(
                actor=request.user,
                patient=patient,
                typed_name=form.cleaned_data["typed_name"],
                understood=form.cleaned_data["understood"],
                ip_address=client_ip(request),
            )
        except services.ScreeningRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "Thank you: your consent is signed. You can withdraw it at any time.")
            return redirect("screening:portal")
    context = {"patient": patient, **overview, "form": form}
    return render(request, "screening/portal_consent.html", context, status=400 if form.errors else 200)


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "HEAD", "POST"])
def portal_consent_withdraw(request):
    """Asked on a page of its own that says what a withdrawal stops and what it does not (as staff are asked,
    consent_withdraw): the portal's one button withdrew at once."""
    patient = patient_for_portal_user(request.user)
    consent = selectors.portal_screening(patient=patient)["consent"]
    if consent is None:
        messages.info(request, "There is no signed consent to withdraw.")
        return redirect("screening:portal")
    form = forms.WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid() or request.POST.get("confirm") != "yes":
        context = {"consent": consent, "fields": formrender.form_fields(form)}
        return render(
            request, "screening/portal_consent_withdraw_confirm.html", context, status=400 if form.errors else 200
        )
    try:
        services.consent_withdraw(actor=request.user, signature=consent, reason=form.cleaned_data["reason"])
    except services.ScreeningRefused as refusal:  # e.g. a second click that lost the race to the first
        messages.info(request, str(refusal))
    else:
        messages.success(
            request,
            "Your consent is withdrawn and your care team has been told; they will be in touch about what happens "
            "next. You will not be given ketamine unless you sign the consent form again.",
        )
    return redirect("screening:portal")
