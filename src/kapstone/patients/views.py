from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts import services as accounts_services
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import CLINICAL_ROLES, RECORD_ROLES, Role
from kapstone.patients import selectors, services
from kapstone.patients.forms import RECORD_PART_FORMS, CareTeamForm, ChildbearingForm, PatientForm

CARE_TEAM_EDITORS = {Role.ADMIN, Role.PRESCRIBER}


@roles_required(*RECORD_ROLES)
def patient_list(request):
    query = request.GET.get("q", "")[:100]
    page = selectors.patient_list(user=request.user, query=query, page_number=request.GET.get("page", 1))
    return render(request, "patients/patient_list.html", {"page": page, "query": query})


@roles_required(*RECORD_ROLES)
def patient_create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = services.patient_create(actor=request.user, fields=form.cleaned_data)
        messages.success(request, f"{patient.full_name} is registered as {patient.record_number}.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(
        request,
        "patients/patient_form.html",
        {"form_fields": formrender.drawn_fields(form), "title": "Register a patient"},
    )


def _detail_page(request, patient, *, invalid_part_form=None):
    """The record page; after a failed add, the form that failed keeps its input and errors (status 400)."""
    part_forms = {kind: form_class(prefix=kind) for kind, form_class in RECORD_PART_FORMS.items()}
    if invalid_part_form is not None:
        part_forms[invalid_part_form.prefix] = invalid_part_form
    childbearing_form = ChildbearingForm(initial={"potential": patient.childbearing_potential})
    sections = selectors.patient_record_sections(patient=patient)
    context = {
        "patient": patient,
        **sections,
        "part_forms": part_forms,
        # The empty forms are drawn once for every request that shows the same form: drawing the four of them
        # through the templates on each request was the record page's largest cost after its reads (issue 19).
        "part_fields": {kind: formrender.drawn_fields(form) for kind, form in part_forms.items()},
        "can_edit_team": selectors.may_edit_care_team(user=request.user, team=sections["care_team"]),
        "childbearing_fields": formrender.drawn_fields(childbearing_form),
    }
    status = 200 if invalid_part_form is None else 400
    return render(request, "patients/patient_detail.html", context, status=status)


@roles_required(*RECORD_ROLES)
def patient_detail(request, patient_id):
    # The page names the patient's portal login and who recorded their childbearing potential: read with the
    # patient, not one query each.
    patient = selectors.patient_get(
        user=request.user, patient_id=patient_id, related=("user", "childbearing_recorded_by")
    )
    return _detail_page(request, patient)


@roles_required(*RECORD_ROLES)
@require_POST
def portal_invite(request, patient_id):
    """Gives the patient a portal login: an email with a link to choose a password."""
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose="portal invitation")
    try:
        user = accounts_services.portal_invite(actor=request.user, patient=patient)
    except accounts_services.AccountError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"An invitation to choose a password is on its way to {user.email}.")
    return redirect("patients:detail", patient_id=patient.pk)


@roles_required(*RECORD_ROLES)
def patient_edit(request, patient_id):
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose="edit")
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        # The form validated a copy; the service applies and audits the change.
        patient.refresh_from_db()
        services.patient_update(actor=request.user, patient=patient, fields=form.cleaned_data)
        messages.success(request, "The record is saved.")
        return redirect("patients:detail", patient_id=patient.pk)
    # Drawn afresh each time, never kept as an empty form is: its values are the patient's record.
    context = {"form_fields": formrender.form_fields(form), "patient": patient, "title": "Edit record"}
    return render(request, "patients/patient_form.html", context)


@roles_required(*RECORD_ROLES)
@require_POST
def record_part_add(request, patient_id, kind):
    if kind not in RECORD_PART_FORMS:
        raise Http404
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose=f"add {kind}")
    form = RECORD_PART_FORMS[kind](request.POST, prefix=kind)
    if form.is_valid():
        services.record_part_add(actor=request.user, patient=patient, kind=kind, fields=form.cleaned_data)
        messages.success(request, "Added.")
        return redirect("patients:detail", patient_id=patient.pk)
    return _detail_page(request, patient, invalid_part_form=form)


@roles_required(*RECORD_ROLES)
@require_POST
def record_part_remove(request, patient_id, kind, part_id):
    if kind not in RECORD_PART_FORMS:
        raise Http404
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose=f"remove {kind}")
    part = selectors.record_part_get(patient=patient, kind=kind, part_id=part_id)
    # Asked on a page of its own (as a withdrawal from a group is): the row's button, one tap on a tablet, sat
    # beside every other diagnosis and medication and took it off the record at once.
    if request.POST.get("confirm") != "yes":
        return render(
            request, "patients/record_part_remove_confirm.html", {"patient": patient, "kind": kind, "part": part}
        )
    if not services.record_part_remove(actor=request.user, patient=patient, kind=kind, part_id=part_id):
        raise Http404
    messages.success(request, f"Removed {part} from the record.")
    return redirect("patients:detail", patient_id=patient.pk)


@roles_required(*CLINICAL_ROLES)
@require_POST
def childbearing_record(request, patient_id):
    """A clinician documents whether the patient could become pregnant (read by the dosing room)."""
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose="childbearing potential")
    form = ChildbearingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the childbearing-potential answers.")
        return redirect("patients:detail", patient_id=patient.pk)
    services.childbearing_record(actor=request.user, patient=patient, potential=form.cleaned_data["potential"])
    messages.success(request, "Childbearing potential recorded.")
    return redirect("patients:detail", patient_id=patient.pk)


@roles_required(*CARE_TEAM_EDITORS)
def care_team_edit(request, patient_id):
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose="care team")
    members = selectors.patient_care_team(patient=patient)
    if not selectors.may_edit_care_team(user=request.user, team=members):
        # A facilitator's grant opens the record for the course, not its care team (patients.selectors).
        raise Http404("No such patient.")
    initial = {
        "staff": [m.staff_id for m in members],
        "lead": next((m.staff_id for m in members if m.is_lead), None),
    }
    form = CareTeamForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.care_team_set(
            actor=request.user, patient=patient, staff=list(form.cleaned_data["staff"]), lead=form.cleaned_data["lead"]
        )
        messages.success(request, "The care team is saved.")
        if request.user.role in CLINICAL_ROLES and request.user not in form.cleaned_data["staff"]:
            return redirect("patients:list")
        return redirect("patients:detail", patient_id=patient.pk)
    # Drawn afresh, never kept: it starts from this patient's team, as the edit page's form starts from their record.
    form.offer_clinicians()
    context = {"form_fields": formrender.form_fields(form), "patient": patient}
    return render(request, "patients/care_team_form.html", context)


@roles_required(Role.ADMIN)
def patient_audit(request, patient_id):
    patient = selectors.patient_get(user=request.user, patient_id=patient_id, purpose="audit trail")
    page = selectors.patient_audit_trail(patient=patient, page_number=request.GET.get("page", 1))
    return render(request, "patients/patient_audit.html", {"patient": patient, "page": page})
