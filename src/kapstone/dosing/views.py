from django.contrib import messages
from django.db import transaction
from django.forms import ModelChoiceField
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.dosing import selectors, services
from kapstone.dosing.forms import LEDGER_FORMS, ROOM_FORMS
from kapstone.dosing.models import DoseRecord, LedgerEntry


@roles_required(*RECORD_ROLES)
def session_list(request):
    sessions = selectors.upcoming_dosing_sessions(user=request.user)
    return render(request, "dosing/session_list.html", {"sessions": sessions})


def _share_model_choices(forms: list) -> None:
    """Every card offers the same choices (lots, witnesses): read them once for the room, not once per patient."""
    for name, field in forms[0].fields.items():
        if isinstance(field, ModelChoiceField):
            choices = list(field.choices)
            for form in forms:
                form.fields[name].choices = choices


def _room_context(request, session, room, bound=None):
    forms = {}
    for entry in room:
        forms[entry.patient.pk] = {
            action: (
                bound[1]
                if bound and bound[0] == (entry.patient.pk, action)
                else form_class(prefix=f"p{entry.patient.pk}-{action}")
            )
            for action, form_class in ROOM_FORMS.items()
        }
        if not (entry.awaiting_dose and entry.readiness.vitals_review):
            del forms[entry.patient.pk]["order"].fields["predose_bp_reviewed"]
        # Only a prescriber decides to proceed or defer; anyone else records the screen alone.
        if request.user.role != Role.PRESCRIBER:
            del forms[entry.patient.pk]["risk"].fields["decision"]
    if forms:
        for action in ROOM_FORMS:
            _share_model_choices([patient_forms[action] for patient_forms in forms.values()])
    return {
        "session": session,
        "room": room,
        "forms": forms,
        "thresholds": selectors.room_thresholds(),
        "session_day_refusal": selectors.session_day_refusal(session=session, at=timezone.now()),
    }


@roles_required(*RECORD_ROLES)
def session_room(request, session_id):
    session, room = selectors.session_room(user=request.user, session_id=session_id)
    return render(request, "dosing/room.html", _room_context(request, session, room))


def _apply(action: str, *, actor, record: DoseRecord, data: dict):
    if action == "checkin":
        return services.check_in(actor=actor, record=record, **data)
    if action == "order":
        check = services.dose_order(actor=actor, record=record, **data)
        return check.message
    if action == "administer":
        return services.dose_administer(actor=actor, record=record, balance=data["balance"], witness=data["witness"])
    if action == "vitals":
        reading = services.vitals_record(actor=actor, record=record, **data)
        return "; ".join(reading.alert_messages)
    if action == "ratings":
        return services.ratings_record(actor=actor, record=record, **data)
    if action == "adverse":
        return services.adverse_event_record(actor=actor, record=record, **data)
    if action == "discharge":
        return services.discharge(actor=actor, record=record, **data)
    if action == "risk":
        assessment = services.risk_assessment_record(actor=actor, record=record, **data)
        if assessment.decision:
            return f"suicide risk assessed ({assessment.risk_level}); decision: {assessment.get_decision_display()}."
        return f"suicide-risk screen recorded: {assessment.risk_level} risk."
    if action == "medreview":
        reviewed = services.medication_review(actor=actor, record=record, **data)
        return "medicines reviewed: " + ", ".join(reviewed) + "."
    return services.note_add(actor=actor, record=record, **data)


@roles_required(*RECORD_ROLES)
@require_POST
def room_action(request, session_id, patient_id, action):
    if action not in ROOM_FORMS:
        raise Http404
    session, patient = selectors.room_patient(user=request.user, session_id=session_id, patient_id=patient_id)
    form = ROOM_FORMS[action](request.POST, prefix=f"p{patient.pk}-{action}")
    if form.is_valid():
        try:
            # One transaction: a refused action must not leave behind the record it opened (nor its audit row).
            with transaction.atomic():
                record = services.dose_record_open(actor=request.user, session=session, patient=patient)
                outcome = _apply(action, actor=request.user, record=record, data=form.cleaned_data)
        except services.DosingError as refusal:
            form.add_error(None, str(refusal))
        else:
            if isinstance(outcome, str) and outcome:
                messages.warning(request, f"{patient.full_name}: {outcome}")
            else:
                messages.success(request, f"{patient.full_name}: saved.")
            return redirect(reverse("dosing:room", args=[session.pk]) + f"#patient-{patient.pk}")
    session, room = selectors.session_room(user=request.user, session_id=session_id)
    context = _room_context(request, session, room, bound=((patient.pk, action), form))
    return render(request, "dosing/room.html", context, status=400)


@roles_required(*selectors.LEDGER_ROLES)
def ledger(request):
    balances, entries = selectors.ledger()
    forms = {kind: form_class(prefix=kind) for kind, form_class in LEDGER_FORMS.items()}
    return render(
        request,
        "dosing/ledger.html",
        {"balances": balances, "entries": entries, "forms": forms, "discrepancies": selectors.open_discrepancies()},
    )


def _ledger_apply(kind: str, *, actor, data: dict):
    if kind == "receipt":
        return services.lot_receive(actor=actor, **data)
    balance = data["balance"]
    common = {"actor": actor, "lot": balance.lot, "location": balance.location, "witness": data.get("witness")}
    if kind == "waste":
        return services.ledger_post(
            kind=LedgerEntry.Kind.WASTE, change_mg=-data["amount_mg"], reason=data["reason"], **common
        )
    if kind == "count":
        return services.ledger_post(kind=LedgerEntry.Kind.COUNT, change_mg=0, counted_mg=data["counted_mg"], **common)
    return services.ledger_post(
        kind=LedgerEntry.Kind.CORRECTION,
        change_mg=data["change_mg"],
        corrects=data["corrects"],
        reason=data["reason"],
        **common,
    )


@roles_required(*selectors.LEDGER_ROLES)
@require_POST
def ledger_action(request, kind):
    if kind not in LEDGER_FORMS:
        raise Http404
    form = LEDGER_FORMS[kind](request.POST, prefix=kind)
    if form.is_valid():
        try:
            entry = _ledger_apply(kind, actor=request.user, data=form.cleaned_data)
        except services.DosingError as refusal:
            form.add_error(None, str(refusal))
        else:
            if entry.discrepancy_mg:
                messages.error(
                    request,
                    f"Count does not match the balance: discrepancy {entry.discrepancy_mg} mg. "
                    "Investigate and record a witnessed correction.",
                )
            else:
                messages.success(request, "Entry recorded.")
            return redirect("dosing:ledger")
    balances, entries = selectors.ledger()
    forms = {other: (form if other == kind else form_class(prefix=other)) for other, form_class in LEDGER_FORMS.items()}
    return render(
        request,
        "dosing/ledger.html",
        {"balances": balances, "entries": entries, "forms": forms, "discrepancies": selectors.open_discrepancies()},
        status=400,
    )
