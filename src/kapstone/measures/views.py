"""Staff views for measurement-based care: a patient's measures, entry on the patient's behalf, the alert
queue and course scheduling. The patient's own pages live in kapstone.portal; both fill in a questionnaire through
kapstone.measures.questionnaire."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts.fields import staff_label
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import CLINICAL_ROLES, RECORD_ROLES, Role
from kapstone.measures import charts, selectors, services
from kapstone.measures.forms import (
    AcknowledgeForm,
    AmendTotalForm,
    EnteredTotalForm,
    FindingCorrectionForm,
    StartQuestionnaireForm,
    UrineToxicologyForm,
)
from kapstone.measures.models import Assessment, CriticalAlert
from kapstone.measures.questionnaire import handle_questionnaire
from kapstone.measures.result_rows import result_rows
from kapstone.measures.scoring import ScoringError, get_instrument
from kapstone.patients.selectors import patient_get
from kapstone.program.selectors import (
    HIDDEN_PATIENTS_REFUSAL,
    group_has_patient_hidden_from,
    group_holding_visible_patient,
)
from kapstone.untrusted import same_site_address

SCHEDULERS = (Role.ADMIN, Role.PRESCRIBER)


# --- a patient's measures -----------------------------------------------------------------------------------


def _measures_context(patient, **forms) -> dict:
    sections = selectors.patient_measures(patient=patient)
    charted = [(t, charts.trajectory_svg(t), result_rows(t)) for t in sections["trajectories"]]
    total_form = forms.get("total_form") or EnteredTotalForm(prefix="total", scheduled=sections["scheduled_totals"])
    start_form = forms.get("start_form") or StartQuestionnaireForm(prefix="start")
    toxicology_form = forms.get("toxicology_form") or UrineToxicologyForm(prefix="tox")
    return {
        "patient": patient,
        **sections,
        "charted": charted,
        "total_fields": formrender.drawn_fields(total_form),
        "start_fields": formrender.drawn_fields(start_form),
        "toxicology_form": toxicology_form,
        "toxicology_fields": formrender.drawn_fields(toxicology_form),
        "toxicology": selectors.urine_toxicology(patient=patient),
        "amend_forms": _amend_forms(sections["entered_totals"], forms.get("amend_form")),
    }


def _amend_forms(entered_totals, bound=None) -> list:
    """Each entered total with its correct-or-void form and the form's fields drawn (_fields), or None and "" once
    voided; the one just posted keeps its input."""
    rows = []
    for assessment in entered_totals:
        if bound is not None and bound.assessment.pk == assessment.pk:
            form = bound
        elif assessment.status == Assessment.Status.COMPLETED:
            form = AmendTotalForm(assessment=assessment, prefix=f"amend-{assessment.pk}")
        else:
            form = None
        rows.append((assessment, form, "" if form is None else formrender.drawn_fields(form)))
    return rows


@roles_required(*RECORD_ROLES)
def patient_measures(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="measures")
    return render(request, "measures/patient_measures.html", _measures_context(patient))


@roles_required(*CLINICAL_ROLES)
@require_POST
def enter_total(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="enter total")
    form = EnteredTotalForm(
        request.POST, prefix="total", scheduled=selectors.scheduled_totals(selectors.open_assessments(patient))
    )
    if form.is_valid():
        try:
            assessment = services.assessment_record_total(
                actor=request.user,
                patient=patient,
                instrument_id=form.cleaned_data["instrument"],
                total=form.cleaned_data["total"],
                completed_on=form.cleaned_data["completed_on"],
                items=form.entered_items(),
                scheduled=form.scheduled_assessment(),
            )
        except ScoringError as error:
            form.add_error("total", str(error))
        else:
            if assessment.critical:
                messages.warning(request, "A critical answer was recorded; an alert is in the care team's queue.")
            messages.success(request, "The total is recorded.")
            return redirect("measures:patient", patient_id=patient.pk)
    return render(request, "measures/patient_measures.html", _measures_context(patient, total_form=form), status=400)


@roles_required(*CLINICAL_ROLES)
@require_POST
def amend_total(request, patient_id, assessment_id):
    """Correct or void a total staff entered, with the reason (audited by the service)."""
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="amend entered total")
    assessment = selectors.entered_total(patient=patient, assessment_id=assessment_id)
    form = AmendTotalForm(request.POST, assessment=assessment, prefix=f"amend-{assessment.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == AmendTotalForm.VOID:
                services.entered_total_void(actor=request.user, assessment=assessment, reason=data["reason"])
            else:
                services.entered_total_correct(
                    actor=request.user,
                    assessment=assessment,
                    total=data["total"],
                    completed_on=data["completed_on"],
                    reason=data["reason"],
                )
        except ScoringError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The total is voided." if data["action"] == AmendTotalForm.VOID else "Corrected.")
            return redirect("measures:patient", patient_id=patient.pk)
    context = _measures_context(patient, amend_form=form)
    return render(request, "measures/patient_measures.html", context, status=400)


@roles_required(*CLINICAL_ROLES)
@require_POST
def record_urine_toxicology(request, patient_id):
    """A urine drug screen's result (long-term safety follow-up)."""
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="record urine toxicology")
    form = UrineToxicologyForm(request.POST, prefix="tox")
    if form.is_valid():
        try:
            record = services.urine_toxicology_record(actor=request.user, patient=patient, **form.cleaned_data)
        except services.ToxicologyError as error:
            form.add_error(None, str(error))
        else:
            if record.unexpected:
                messages.warning(request, "A substance not prescribed was found; a review alert is in the queue.")
            messages.success(request, "The urine drug screen is recorded.")
            return redirect("measures:patient", patient_id=patient.pk)
    context = _measures_context(patient, toxicology_form=form)
    return render(request, "measures/patient_measures.html", context, status=400)


@roles_required(*CLINICAL_ROLES)
@require_POST
def start_questionnaire(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="start questionnaire")
    form = StartQuestionnaireForm(request.POST, prefix="start")
    if not form.is_valid():
        return render(
            request, "measures/patient_measures.html", _measures_context(patient, start_form=form), status=400
        )
    assessment = services.assessment_create(
        actor=request.user, patient=patient, instrument_id=form.cleaned_data["instrument"]
    )
    return redirect("measures:record", patient_id=patient.pk, assessment_id=assessment.pk)


@roles_required(*CLINICAL_ROLES)
def record_questionnaire(request, patient_id, assessment_id):
    """Staff fill in a questionnaire with or for the patient (scheduled or unscheduled)."""
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="record questionnaire")
    assessment = selectors.staff_assessment(patient=patient, assessment_id=assessment_id)
    instrument = get_instrument(assessment.instrument_id)
    if not assessment.is_open or instrument.entry != "items":
        messages.info(request, "This questionnaire is no longer open.")
        return redirect("measures:patient", patient_id=patient.pk)
    outcome = handle_questionnaire(request, assessment=assessment)
    if outcome.result is not None:
        if outcome.result.critical:
            messages.warning(request, "A critical answer was recorded; an alert is in the care team's queue.")
        if outcome.unanswered:
            unanswered = ", ".join(str(number) for number in outcome.unanswered)
            messages.warning(request, f"Not submitted: questions {unanswered} are unanswered. The answers are saved.")
        messages.success(request, "Submitted and scored." if outcome.submitted else "Saved; finish it later.")
        return redirect("measures:patient", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    context = {"patient": patient, "assessment": assessment, "instrument": instrument, "form": outcome.form}
    return render(request, "measures/record_questionnaire.html", context, status=status)


# --- the alert queue ----------------------------------------------------------------------------------------


def _queue_context(request, filters: selectors.QueueFilters, **extra) -> dict:
    return {
        "alerts": selectors.alert_queue(user=request.user, filters=filters),
        "filters": filters,
        "show_all": filters.show_acknowledged,
        "priorities": CriticalAlert.Priority.choices,
        "kinds": selectors.alert_kinds(),
        "staff_members": [(member.pk, staff_label(member)) for member in selectors.alert_filter_staff()],
        "form": AcknowledgeForm(),
        "can_acknowledge": request.user.is_clinician,
        "correction_form": FindingCorrectionForm(),
        "can_correct_finding": request.user.role == Role.PRESCRIBER,
        **extra,
    }


@roles_required(*RECORD_ROLES)
def alert_queue(request):
    context = _queue_context(request, selectors.QueueFilters.from_query(request.GET))
    return render(request, "measures/alert_queue.html", context)


def _safe_next(request, fallback: str):
    return redirect(same_site_address(request, request.POST.get("next")) or fallback)


@roles_required(*CLINICAL_ROLES)
@require_POST
def alert_acknowledge(request, alert_id):
    alert = selectors.alert_get(user=request.user, alert_id=alert_id)
    form = AcknowledgeForm(request.POST, asks_finding=alert.asks_whether_allergic)
    if form.is_valid():
        try:
            services.alert_acknowledge(
                actor=request.user,
                alert=alert,
                note=form.cleaned_data["note"],
                finding=form.cleaned_data.get("finding", ""),
            )
        except ValueError as error:
            messages.error(request, str(error))
        else:
            about = alert.patient.full_name if alert.patient_id else alert.kind_label
            messages.success(request, f"The alert for {about} is acknowledged.")
        return _safe_next(request, "measures:alerts")
    context = _queue_context(request, selectors.QueueFilters(), form=form, failed_alert=alert.pk, can_acknowledge=True)
    return render(request, "measures/alert_queue.html", context, status=400)


@roles_required(Role.PRESCRIBER)
@require_POST
def alert_finding_correct(request, alert_id):
    """A prescriber records that a reaction acknowledged as allergic was not, with the reason."""
    alert = selectors.alert_get(user=request.user, alert_id=alert_id)
    form = FindingCorrectionForm(request.POST)
    if form.is_valid():
        try:
            services.alert_finding_correct(actor=request.user, alert=alert, reason=form.cleaned_data["reason"])
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"The reaction of {alert.patient.full_name} is recorded as not allergic.")
        return _safe_next(request, "measures:alerts")
    context = _queue_context(
        request,
        selectors.QueueFilters(show_acknowledged=True),
        correction_form=form,
        failed_correction=alert.pk,
        can_acknowledge=True,
    )
    return render(request, "measures/alert_queue.html", context, status=400)


# --- scheduling ---------------------------------------------------------------------------------------------


@roles_required(*SCHEDULERS)
@require_POST
def schedule_group(request, group_id):
    group = group_holding_visible_patient(user=request.user, group_id=group_id)
    if group_has_patient_hidden_from(user=request.user, group=group):
        messages.error(request, HIDDEN_PATIENTS_REFUSAL)
        return redirect("program:group", group.pk)
    try:
        created = services.assessments_schedule_for_group(actor=request.user, group=group)
    except ValueError as error:  # a practice's own plan that does not load
        messages.error(request, f"The assessment plan could not be used: {error}")
    else:
        messages.success(request, f"{created} questionnaires scheduled for {group.name}.")
    return _safe_next(request, "measures:alerts")
