"""Staff pages for an alert's paging, the on-call rota, a staff member's paging number and a patient's safety
plan; and the patient's own safety plan in the portal."""

from django.contrib import messages
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import CLINICAL_ROLES, RECORD_ROLES, Role
from kapstone.alerts import selectors, services
from kapstone.alerts.forms import DefaultOnCallForm, PagingNumberForm, SafetyPlanForm, SlotForm
from kapstone.alerts.rota_rows import slot_rows
from kapstone.measures.forms import AcknowledgeForm
from kapstone.measures.portal_settings import crisis_resources
from kapstone.patients.selectors import patient_for_portal_user, patient_get
from kapstone.untrusted import row_id

ROTA_VIEWERS = (Role.PRESCRIBER, Role.ADMIN)


@roles_required(*RECORD_ROLES)
def alert_detail(request, alert_id):
    detail = selectors.alert_detail(user=request.user, alert_id=alert_id)
    context = {
        "detail": detail,
        "alert": detail.alert,
        "form": AcknowledgeForm(),
        "can_acknowledge": request.user.is_clinician,
    }
    return render(request, "alerts/alert_detail.html", context)


# --- the rota -----------------------------------------------------------------------------------------------


def _rota_page(request, *, slot_form=None, default_form=None, status=200):
    data = selectors.rota()
    can_edit = request.user.role == Role.PRESCRIBER
    # One token for the page, the slots' remove buttons and the template's own forms ({% csrf_token %} reads it
    # from the context), as the sign-out form on every signed-in page has one.
    csrf_token = get_token(request)
    context = {
        **data,
        "can_edit": can_edit,
        "csrf_token": csrf_token,
        "slot_rows": slot_rows(data["slots"], can_edit=can_edit, csrf_token=csrf_token),
    }
    if can_edit:
        slot_form = slot_form or SlotForm()
        default_form = default_form or DefaultOnCallForm(initial={"prescriber": data["default"]})
        # Both forms offer the same prescribers: one read gives both their choices, and an empty form's fields
        # are drawn once for every request that shows the same form (issue 19).
        formrender.read_choices_once([slot_form, default_form])
        context["slot_fields"] = formrender.drawn_fields(slot_form)
        context["default_fields"] = formrender.drawn_fields(default_form)
    return render(request, "alerts/rota.html", context, status=status)


@roles_required(*ROTA_VIEWERS)
def rota(request):
    return _rota_page(request)


@roles_required(Role.PRESCRIBER)
@require_POST
def rota_add(request):
    form = SlotForm(request.POST)
    if form.is_valid():
        try:
            services.rota_slot_add(actor=request.user, **form.cleaned_data)
        except services.RotaRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "The slot is on the rota.")
            return redirect("alerts:rota")
    return _rota_page(request, slot_form=form, status=400)


@roles_required(Role.PRESCRIBER)
@require_POST
def rota_remove(request, slot_id):
    slot = selectors.slot_get(slot_id)
    services.rota_slot_remove(actor=request.user, slot=slot)
    messages.success(request, "The slot is removed from the rota.")
    return redirect("alerts:rota")


@roles_required(Role.PRESCRIBER)
@require_POST
def rota_default(request):
    form = DefaultOnCallForm(request.POST)
    if not form.is_valid():
        return _rota_page(request, default_form=form, status=400)
    services.rota_default_set(actor=request.user, prescriber=form.cleaned_data["prescriber"])
    messages.success(request, "The default on-call prescriber is saved.")
    return redirect("alerts:rota")


@roles_required(*CLINICAL_ROLES)
def paging_number(request):
    if request.method == "POST":
        form = PagingNumberForm(request.POST)
        if form.is_valid():
            services.paging_number_set(actor=request.user, mobile=form.cleaned_data["mobile"])
            messages.success(request, "Your paging number is saved.")
            return redirect("alerts:paging")
        return render(request, "alerts/paging.html", {"form": form}, status=400)
    form = PagingNumberForm(initial={"mobile": selectors.paging_number(request.user)})
    return render(request, "alerts/paging.html", {"form": form})


# --- safety plans -------------------------------------------------------------------------------------------


def _plan_page(request, patient, *, form=None, status=200):
    versions = selectors.safety_plan_versions(patient=patient)
    shown = versions[0] if versions else None
    if wanted := row_id(request.GET.get("version")):
        shown = next((plan for plan in versions if plan.version == wanted), shown)
    if form is None:
        initial = {name: getattr(versions[0], name) for name, _ in versions[0].SECTIONS} if versions else {}
        form = SafetyPlanForm(initial=initial)
    can_edit = request.user.is_clinician
    form_fields = ""
    if can_edit:
        # The empty form is drawn once for every request, as the rota's forms are (issue 19); one that starts from the
        # plan in force is drawn afresh, never kept: its values are the patient's plan.
        form_fields = formrender.form_fields(form) if versions else formrender.drawn_fields(form)
    context = {
        "patient": patient,
        "versions": versions,
        "shown": shown,
        "can_edit": can_edit,
        "form_fields": form_fields,
    }
    return render(request, "alerts/safety_plan.html", context, status=status)


@roles_required(*RECORD_ROLES)
def safety_plan(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="safety plan")
    return _plan_page(request, patient)


@roles_required(*CLINICAL_ROLES)
@require_POST
def safety_plan_save(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="safety plan")
    form = SafetyPlanForm(request.POST)
    if form.is_valid():
        try:
            plan = services.safety_plan_save(actor=request.user, patient=patient, sections=form.cleaned_data)
        except services.SafetyPlanRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Version {plan.version} of the safety plan is saved.")
            return redirect("alerts:safety_plan", patient_id=patient.pk)
    return _plan_page(request, patient, form=form, status=400)


@roles_required(Role.PATIENT)
def my_safety_plan(request):
    patient = patient_for_portal_user(request.user)
    plan = selectors.current_safety_plan(patient=patient)
    return render(request, "alerts/my_safety_plan.html", {"plan": plan, "resources": crisis_resources()})
