import csv
import functools
import io
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.accounts.services import SecondSignatureRefused, second_signature_confirm
from kapstone.dosing import selectors, services
from kapstone.dosing.forms import (
    LEDGER_FORMS,
    ROOM_FORMS,
    AdministerForm,
    LedgerFilterForm,
    LocationForm,
    LossReportFileForm,
    RegistrationForm,
    RiskAssessmentForm,
    room_witnesses,
)
from kapstone.dosing.ledger_rows import entry_rows
from kapstone.dosing.models import DoseRecord, LedgerEntry
from kapstone.dosing.room_cards import DOSE_GIVING_ROLES, childbearing_link, room_card
from kapstone.formrender import shown
from kapstone.pdf import pdf_from_html
from kapstone.practice.templatetags.kapstone_tags import written_quantity
from kapstone.reversing import reverse_once
from kapstone.spreadsheet import csv_cell
from kapstone.untrusted import row_id


@roles_required(*RECORD_ROLES)
def session_list(request):
    sessions = selectors.upcoming_dosing_sessions(user=request.user)
    return render(request, "dosing/session_list.html", {"sessions": sessions})


def _left_out(action: str, *, role: str, entry: selectors.RoomPatient) -> tuple[str, ...]:
    """The fields a card's form leaves out: the pre-dose BP review unless the latest pre-dose reading needs it
    before a dose; the decision to proceed or defer for anyone but a prescriber, who alone decides it, and for everyone
    once the dose is given (the screen is still recorded: services.risk_assessment_record)."""
    if action == "order" and not (entry.awaiting_dose and entry.readiness.vitals_review):
        return ("predose_bp_reviewed",)
    if action == "risk" and (role != Role.PRESCRIBER or (entry.record is not None and entry.record.administered_at)):
        return ("decision",)
    return ()


def _checklist_as_recorded(record: DoseRecord) -> dict[str, object]:
    """The pre-dose checklist's answers on the record, as its form's fields (weight in kg, as stored)."""
    return {
        "fasting_confirmed": record.fasting_confirmed,
        "escort_arranged": record.escort_arranged,
        "pregnancy_test": record.pregnancy_test,
        "pregnancy_test_on": record.pregnancy_test_on,
        "weight": record.weight_kg,
        "weight_unit": "kg",
        "medication_changes": record.medication_changes,
        "new_medications": record.new_medications,
        "intention": record.intention,
    }


def _shaped(form: Form, left_out: tuple[str, ...]) -> Form:
    """The card's form without the fields it leaves out, its choices read."""
    for name in left_out:
        form.fields.pop(name, None)
    formrender.read_choices_once([form])
    return form


# Each card form's heading, by action.
ROOM_FORM_LABELS = {
    "checkin": "Pre-dose checklist",
    "vitals": "Record vitals",
    "risk": "Suicide risk (C-SSRS since last visit)",
    "medreview": "Medication review",
    "order": "Dose order",
    "administer": "Give the dose",
    "ratings": "Sedation and dissociation",
    "adverse": "Adverse event",
    "discharge": "Discharge",
    "note": "Add a note",
}
# Each card form's button, by action: ten buttons reading "Save" on one card did not say which record each writes.
ROOM_FORM_BUTTONS = {
    "checkin": "Record the check-in",
    "vitals": "Save vitals",
    "risk": "Save the risk screen",
    "medreview": "Save the medication review",
    "order": "Order the dose",
    "administer": "Record the dose given",
    "ratings": "Save the ratings",
    "adverse": "Record the adverse event",
    "discharge": "Discharge",
    "note": "Add the note",
}

# What a form that passed without a warning did, said back by the room ("Alice Abernathy: dose given."): a bare
# "saved." did not tell a nurse with four patients which of the card's forms it was about.
ROOM_FORM_DONE = {
    "checkin": "check-in recorded",
    "vitals": "vitals saved",
    "order": "dose ordered",
    "administer": "dose given",
    "ratings": "ratings saved",
    "adverse": "adverse event recorded",
    "discharge": "discharged",
    "note": "note added",
}


@dataclass(frozen=True)
class _DrawnForm:
    """A card's form: its fields drawn, and whether it has errors (it opens)."""

    fields: SafeString
    errors: bool = False


def _card_form(drawn: _DrawnForm, *, label: str, button: str, url: str, csrf_token: str) -> SafeString:
    """A card's form in its disclosure, with the page's CSRF token, written out here: included as a template for
    each form of each card (ten a card), it was a third of drawing the room. tests/dosing/test_room_forms.py holds
    it to the template it replaced."""
    return mark_safe(  # noqa: S308 - the label, button, address and token are escaped; the fields are a drawn form's
        f"<details{' open' if drawn.errors else ''}>\n  <summary>{shown(label)}</summary>\n"
        f'  <form method="post" action="{shown(url)}" novalidate>\n'
        f'    <input type="hidden" name="csrfmiddlewaretoken" value="{shown(csrf_token)}">\n'
        f'    {drawn.fields}\n    <button type="submit">{shown(button)}</button>\n  </form>\n</details>\n'
    )


# The card forms whose drawing is fixed by their class: the others read what they offer when made, the lots and
# witnesses to give a dose with from the database, the suicide-risk screener's questions from the practice's wording.
FIXED_ROOM_FORMS = frozenset(ROOM_FORMS) - {"administer", "risk"}
# Each fixed card form, by action and the fields it leaves out, drawn (formrender.empty_form_fields) once for the
# requests one process serves: made on every load of the room, they took as long as drawing them (issue 19).
_FIXED_DRAWINGS: dict[tuple[str, tuple[str, ...]], str] = {}
# The patient and action a card form's address is written for once a page, then given each card's (issue 19).
_ANY_PATIENT, _ANY_ACTION = 2**31 - 1, "any-action"


def _empty_drawing(action: str, left_out: tuple[str, ...], **made: object) -> str:
    """The card form's fields, empty, under formrender.STAMP_PREFIX; `made` is what the form is made with."""
    form = ROOM_FORMS[action](prefix=formrender.STAMP_PREFIX, **made)
    return formrender.empty_form_fields(_shaped(form, left_out))


class _RoomForms:
    """The forms of the room's cards, each drawn when a card shows it. The cards' empty forms differ only by their
    prefix, so each kind (with the fields it leaves out) is drawn once and given to every card under the card's
    prefix (formrender.stamped): made and drawn for each card, the ten forms of four cards were most of the page's
    time. A kind fixed by its class (FIXED_ROOM_FORMS) is drawn once for the process, the others once for the page;
    the form to give a dose once for each route ordered in the room, as it offers only the lots fitting the card's
    order. The form posted with errors is drawn itself."""

    def __init__(
        self,
        role: str,
        bound: tuple[tuple[int, str], Form] | None,
        *,
        session_id: int,
        csrf_token: str,
        witnesses: list | None,
    ):
        self.role, self.bound = role, bound
        self.csrf_token, self.witnesses = csrf_token, witnesses
        self.drawn: dict[tuple[str, tuple[str, ...], str], str] = {}
        # The lots the room may give from, read once for the page and offered to each route's form (issue 19).
        self._givable: list | None = None
        # One reverse for the page: one for each form of each card (ten a card) was a tenth of drawing the forms.
        self.any_action_url = reverse_once("dosing:room_action", args=[session_id, _ANY_PATIENT, _ANY_ACTION])

    def card(self, entry: selectors.RoomPatient) -> "_CardForms":
        return _CardForms(self, entry)

    def form(self, entry: selectors.RoomPatient, action: str) -> _DrawnForm:
        left_out = _left_out(action, role=self.role, entry=entry)
        prefix = f"p{entry.patient.pk}-{action}"
        route = entry.record.route if action == "administer" and entry.record is not None else ""
        if self.bound and self.bound[0] == (entry.patient.pk, action):
            if isinstance(self.bound[1], AdministerForm):
                # Sent back, it offers what the card offered: the lots fitting the card's order.
                self.bound[1].offer(self._administer_offered(route))
            form = _shaped(self.bound[1], left_out)
            return _DrawnForm(formrender.form_fields(form), errors=bool(form.errors))
        if action == "checkin" and entry.record is not None and entry.record.checked_in_at is not None:
            # Opens on what was recorded: drawn empty, a checklist sent again to change one answer erased the others
            # (the escort, the fasting, the pregnancy test) from the record.
            form = ROOM_FORMS[action](prefix=prefix, initial=_checklist_as_recorded(entry.record))
            return _DrawnForm(formrender.form_fields(_shaped(form, left_out)))
        if action in FIXED_ROOM_FORMS:
            if (action, left_out) not in _FIXED_DRAWINGS:
                _FIXED_DRAWINGS[(action, left_out)] = self._empty(action, left_out)
            return _DrawnForm(formrender.stamped(_FIXED_DRAWINGS[(action, left_out)], prefix))
        key = (action, left_out, route)
        if key not in self.drawn:
            self.drawn[key] = self._empty(action, left_out, route=route)
        return _DrawnForm(formrender.stamped(self.drawn[key], prefix))

    def _administer_offered(self, route: str) -> dict[str, list]:
        """What the form to give a dose offers a card whose order is on `route` (AdministerForm.offered)."""
        if self._givable is None:
            self._givable = AdministerForm.givable()
        return AdministerForm.offered(witnesses=self.witnesses, route=route, givable=self._givable)

    def _empty(self, action: str, left_out: tuple[str, ...], *, route: str = "") -> str:
        """The card form's empty drawing. The form to give a dose with is drawn as the room last drew it while the
        lots fitting the order's `route` and the witnesses it offers are unchanged (formrender.kept_drawing), without
        making it: making it (deep copies of its fields, its querysets built) was a tenth of the room's time (issue
        19). So is the suicide-risk form while the screener's wording is unchanged: making it was a thirtieth."""
        if action == "risk":
            return formrender.kept_drawing(
                ("room form", RiskAssessmentForm, left_out, RiskAssessmentForm.question_labels()),
                functools.partial(_empty_drawing, action, left_out),
            )
        if action != "administer":
            return _empty_drawing(action, left_out)
        if self.witnesses is None:  # the page read no witnesses (the viewer gives no dose): the form reads its own
            return _empty_drawing(action, left_out, route=route)
        offered = self._administer_offered(route)
        return formrender.kept_drawing(
            ("room form", AdministerForm, left_out, route, formrender.shown_offers(offered)),
            functools.partial(_empty_drawing, action, left_out, witnesses=self.witnesses, offered=offered),
        )

    def action_url(self, patient_id: int, action: str) -> str:
        """reverse("dosing:room_action", args=[session_id, patient_id, action])"""
        return self.any_action_url.replace(f"/{_ANY_PATIENT}/{_ANY_ACTION}/", f"/{patient_id}/{action}/")

    def card_form(self, entry: selectors.RoomPatient, action: str) -> SafeString:
        return _card_form(
            self.form(entry, action),
            label=ROOM_FORM_LABELS[action],
            button=ROOM_FORM_BUTTONS[action],
            url=self.action_url(entry.patient.pk, action),
            csrf_token=self.csrf_token,
        )


@dataclass(frozen=True)
class _CardForms:
    """One card's forms by action, each in its disclosure, as room_cards.room_card reads them (`forms["checkin"]`)."""

    page: _RoomForms
    entry: selectors.RoomPatient

    def __getitem__(self, action: str) -> SafeString:
        if action not in ROOM_FORMS:
            raise KeyError(action)
        return self.page.card_form(self.entry, action)

    def posted_here(self, action: str) -> bool:
        return self.page.bound is not None and self.page.bound[0] == (self.entry.patient.pk, action)


def _room_context(request, session_id, bound=None):
    # The thresholds the page shows are the ones the room's readiness is judged by: read once for both.
    settings = selectors.room_settings()
    # The witnesses a dose is given with, for the roles the cards offer it to (room_cards), read once for the form and
    # the records' staff: mostly the same few people, read twice (issue 19).
    witnesses = room_witnesses() if request.user.role in DOSE_GIVING_ROLES else None
    session, room = selectors.session_room(
        user=request.user, session_id=session_id, settings=settings, staff=witnesses or ()
    )
    # One token for the page, the cards' forms and the template's own ({% csrf_token %} reads it from the context).
    csrf_token = get_token(request)
    # The one giving the dose cannot witness it (services.dose_administer): the form does not offer them.
    others = None if witnesses is None else [person for person in witnesses if person.pk != request.user.pk]
    page = _RoomForms(request.user.role, bound, session_id=session.pk, csrf_token=csrf_token, witnesses=others)
    return {
        "csrf_token": csrf_token,
        "session": session,
        "cards": [room_card(entry, page.card(entry), role=request.user.role) for entry in room],
        "thresholds": settings.limits,
        "session_day_refusal": selectors.session_day_refusal(session=session, at=timezone.now()),
    }


@roles_required(*RECORD_ROLES)
def session_room(request, session_id):
    return render(request, "dosing/room.html", _room_context(request, session_id))


@dataclass(frozen=True)
class _Said:
    """What the room says back after a card's form, beyond the action's own "done" (ROOM_FORM_DONE): a warning, or
    a confirmation that names what was decided."""

    text: str
    warning: bool = True


def _apply(action: str, *, actor, record: DoseRecord, data: dict) -> _Said | None:
    if action == "checkin":
        services.check_in(actor=actor, record=record, **data)
    elif action == "order":
        # An accepted order is within the ceiling: it is said back as done, not as a warning; the card shows how it
        # stands against the ceiling.
        services.dose_order(actor=actor, record=record, **data)
    elif action == "administer":
        services.dose_administer(actor=actor, record=record, balance=data["balance"], witness=data["witness"])
    elif action == "vitals":
        reading = services.vitals_record(actor=actor, record=record, **data)
        said = ["; ".join(reading.alert_messages)] if reading.alert_messages else []
        if early := selectors.early_post_dose_check(record=record, reading=reading):
            said.append(early)
        return _Said(" ".join(said)) if said else None
    elif action == "ratings":
        services.ratings_record(actor=actor, record=record, **data)
    elif action == "adverse":
        services.adverse_event_record(actor=actor, record=record, **data)
    elif action == "discharge":
        services.discharge(actor=actor, record=record, **data)
    elif action == "risk":
        assessment = services.risk_assessment_record(actor=actor, record=record, **data)
        level = assessment.get_risk_level_display()
        if not assessment.decision:
            return _Said(f"suicide-risk screen recorded; risk level: {level}.")
        # A decision to proceed is the clinician's, made and recorded: it is confirmed as done, as other
        # confirmations are; a decision to defer stays a warning (the dose is not given today).
        return _Said(
            f"suicide risk assessed (risk level: {level}); decision: {assessment.get_decision_display()}.",
            warning=assessment.decision != assessment.Decision.PROCEED,
        )
    elif action == "medreview":
        reviewed = services.medication_review(actor=actor, record=record, **data)
        return _Said("medicines reviewed: " + ", ".join(reviewed) + ".")
    else:
        services.note_add(actor=actor, record=record, **data)
    return None


def _signed(request, form: Form) -> bool:
    """Puts in the form's data, for each second signature it asks for (its `signatures`), the signer's confirmation
    by their own password typed on the form (accounts.services.second_signature_confirm) in place of the person
    chosen, and drops the password. False, with the refusal beside the password, when one is refused. Called before
    the write's transaction: a wrong password counts towards the signer's lockout though nothing is written."""
    # The roles that may sign for the form (the signers it offers); any other form is the ledger's.
    roles = getattr(form, "signer_roles", services.SIGNING_ROLES)
    for signature in getattr(form, "signatures", ()):
        signer = form.cleaned_data.get(signature.signer_field)
        password = form.cleaned_data.pop(signature.password_field, "") or ""
        if signer is None:
            continue
        if not password:
            form.add_error(signature.password_field, f"The {signature.role} types their own password here to sign.")
            return False
        try:
            form.cleaned_data[signature.signer_field] = second_signature_confirm(
                request=request, signer=signer, password=password, roles=roles, role=signature.role
            )
        except SecondSignatureRefused as refusal:
            form.add_error(signature.password_field, str(refusal))
            return False
    return True


@roles_required(*RECORD_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
# Every field: a card's fields are named by patient (p12-administer-witness_password), and the witness's password is
# one of them.
@sensitive_post_parameters()
def room_action(request, session_id, patient_id, action):
    if action not in ROOM_FORMS:
        raise Http404
    session, patient = selectors.room_patient(user=request.user, session_id=session_id, patient_id=patient_id)
    if request.method != "POST":
        # A form sent back with errors leaves the browser here: reloading (or opening) the address goes back to
        # the room, at the patient's card, instead of a bare 405.
        return redirect(reverse("dosing:room", args=[session.pk]) + f"#patient-{patient.pk}")
    form = ROOM_FORMS[action](request.POST, prefix=f"p{patient.pk}-{action}")
    if form.is_valid() and _signed(request, form):
        try:
            outcome = services.dose_record_write(
                actor=request.user,
                session=session,
                patient=patient,
                write=lambda record: _apply(action, actor=request.user, record=record, data=form.cleaned_data),
            )
        except services.ChildbearingNotRecorded as refusal:
            form.add_error(None, format_html("{} {}", str(refusal), childbearing_link(patient)))
        except services.DosingError as refusal:
            form.add_error(None, _refusal_shown(refusal))
        else:
            if outcome is None:
                messages.success(request, f"{patient.full_name}: {ROOM_FORM_DONE.get(action, 'saved')}.")
            elif outcome.warning:
                messages.warning(request, f"{patient.full_name}: {outcome.text}")
            else:
                messages.success(request, f"{patient.full_name}: {outcome.text}")
            return redirect(reverse("dosing:room", args=[session.pk]) + f"#patient-{patient.pk}")
    context = _room_context(request, session_id, bound=((patient.pk, action), form))
    return render(request, "dosing/room.html", context, status=400)


def _refusal_shown(refusal: services.DosingError) -> str | SafeString:
    """A refusal for several reasons (services.DosingError.of_problems) as its lead and a list of them, each read on
    its own line on the tablet; any other as its message."""
    if not refusal.problems:
        return str(refusal)
    items = format_html_join("", "<li>{}</li>", ((problem,) for problem in refusal.problems))
    return format_html('{}:<ul class="refusal-reasons">{}</ul>', refusal.lead, items)


def _refusal_to_form(form, refusal: services.DosingError) -> None:
    """A service refusal names the field it is about ("field: message"); it is shown on that field when the form
    has it, else above the form."""
    field, separator, message = str(refusal).partition(": ")
    if separator and field in form.fields:
        form.add_error(field, message)
    else:
        form.add_error(None, str(refusal))


def _filters(request) -> tuple[LedgerFilterForm, selectors.LedgerFilter, selectors.LedgerBalances]:
    """The filter asked for, and the balances read for the lot it asks for (valid or not): the filter offers its
    lots and locations from them, and the ledger page lists and offers its balances from them."""
    balances = selectors.ledger_balances(lot_id=row_id(request.GET.get("lot")))
    form = LedgerFilterForm(request.GET or None, balances=balances)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        lot = data.get("lot")
        filters = selectors.LedgerFilter(
            location=data.get("location") or "",
            lot_id=lot.pk if lot else None,
            since=data.get("since"),
            until=data.get("until"),
        )
        if filters.lot_id not in (None, balances.lot_id):
            # The form finds a lot by what the database takes for its id (" 1", "+1"), which row_id takes for none:
            # the page lists and offers the balances of the lot found, as it did when it read them for the filter.
            balances = selectors.ledger_balances(lot_id=filters.lot_id)
        return form, filters, balances
    return form, selectors.LedgerFilter(), balances


def _ledger_form_fields(
    forms: dict[str, Form] | None,
    *,
    filters: selectors.LedgerFilter,
    balances: selectors.LedgerBalances,
    signing_staff: tuple,
) -> dict[str, SafeString]:
    """Each ledger form's fields drawn: the `forms` posted back with errors drawn themselves, else each form empty.
    An empty form is drawn as the page last drew it while nothing it offers has changed (page_offers, with its class
    and prefix), without making it: making the six forms (deep copies of their fields and choices) on every load
    took longer than anything else the page drew (issue 19). Their reads are shared (read_once), as when made."""
    if forms is not None:
        return {kind: formrender.drawn_fields(form) for kind, form in forms.items()}
    read_once: dict = {}

    def drawn(kind: str) -> SafeString:
        form = LEDGER_FORMS[kind](
            prefix=kind,
            read_once=read_once,
            offered_lot_id=filters.lot_id,
            balances=balances,
            signing_staff=signing_staff,
        )
        return formrender.form_fields(form)

    return {
        kind: formrender.kept_drawing(
            (
                "ledger form",
                form_class,
                kind,
                form_class.page_offers(
                    read_once, offered_lot_id=filters.lot_id, balances=balances, signing_staff=signing_staff
                ),
            ),
            functools.partial(drawn, kind),
        )
        for kind, form_class in LEDGER_FORMS.items()
    }


def _ledger_page(request, *, forms=None, status=200):
    filter_form, filters, balances = _filters(request)
    window = selectors.ledger(
        user=request.user,
        filters=filters,
        older_than=request.GET.get("older_than"),
        newer_than=request.GET.get("newer_than"),
        signing_roles=services.SIGNING_ROLES,
    )
    query = request.GET.copy()
    for position in ("older_than", "newer_than", "page"):
        query.pop(position, None)

    def window_url(position: str, entry_id: int | None) -> str:
        if entry_id is None:
            return ""
        moved = query.copy()
        moved[position] = str(entry_id)
        return f"?{moved.urlencode()}#entries"

    formrender.read_choices_once([filter_form, *(forms or {}).values()])
    context = {
        "balances": balances.listed(filters),
        "rows": window.rows,
        "entry_rows": entry_rows(window.rows),
        "newer_url": window_url("newer_than", window.newer_than),
        "older_url": window_url("older_than", window.older_than),
        "filter_form": filter_form,
        "filter_fields": formrender.form_fields(filter_form)
        if filter_form.is_bound
        else formrender.empty_form_fields(filter_form),
        "query": query.urlencode(),
        "filtered": bool(filters.bounds()),
        "forms": _ledger_form_fields(forms, filters=filters, balances=balances, signing_staff=window.signing_staff),
        "discrepancies": selectors.open_discrepancies(),
        "loss_reports": selectors.loss_reports_waiting(),
        "registrations": selectors.registrations_expiring(),
        "inventories_due": selectors.inventories_due(),
        "today": timezone.localdate(),
    }
    return render(request, "dosing/ledger.html", context, status=status)


@roles_required(*selectors.LEDGER_ROLES)
def ledger(request):
    return _ledger_page(request)


def _ledger_apply(kind: str, *, actor, data: dict):
    if kind == "receipt":
        return services.lot_receive(actor=actor, **data)
    if kind == "inventory":
        return services.inventory_take(actor=actor, **data)
    if kind == "waste":
        return services.waste_record(actor=actor, **data)
    if kind == "disposal":
        return services.disposal_record(actor=actor, **data)
    if kind == "quarantine":
        return services.lot_quarantine(
            actor=actor, lot=data["balance"].lot, decision=data["decision"], reason=data["reason"]
        )
    balance = data["balance"]
    common = {"actor": actor, "lot": balance.lot, "location": balance.location, "witness": data.get("witness")}
    if kind == "count":
        return services.ledger_post(
            kind=LedgerEntry.Kind.COUNT, change_mg=Decimal("0"), counted_mg=data["counted_mg"], **common
        )
    return services.ledger_post(
        kind=LedgerEntry.Kind.CORRECTION,
        change_mg=data["change_mg"],
        corrects=data["corrects"],
        reason=data["reason"],
        **common,
    )


# The signers' passwords the ledger's forms are sent with, as posted (each form's prefix is its kind).
LEDGER_PASSWORDS = tuple(
    f"{kind}-{signature.password_field}"
    for kind, form_class in LEDGER_FORMS.items()
    for signature in form_class.signatures
)


@roles_required(*selectors.LEDGER_ROLES)
@require_POST
@sensitive_post_parameters(*LEDGER_PASSWORDS)
def ledger_action(request, kind):
    if kind not in LEDGER_FORMS:
        raise Http404
    form = LEDGER_FORMS[kind](request.POST, prefix=kind)
    if form.is_valid() and _signed(request, form):
        try:
            outcome = _ledger_apply(kind, actor=request.user, data=form.cleaned_data)
        except services.DosingError as refusal:
            _refusal_to_form(form, refusal)
        else:
            if isinstance(outcome, LedgerEntry) and outcome.discrepancy_mg:
                messages.error(
                    request,
                    f"Count does not match the balance: discrepancy {written_quantity(outcome.discrepancy_mg)} mg. "
                    "Investigate and "
                    "record a correction with a second signature; left unresolved it becomes a loss report.",
                )
            else:
                messages.success(request, "Recorded.")
            return redirect("dosing:ledger")
    forms = {other: (form if other == kind else form_class(prefix=other)) for other, form_class in LEDGER_FORMS.items()}
    return _ledger_page(request, forms=forms, status=400)


EXPORT_COLUMNS = [
    "entry",
    "recorded_at",
    "kind",
    "drug",
    "form",
    "strength",
    "lot",
    "expires_on",
    "location",
    "change_mg",
    "change_units",
    "balance_after_mg",
    "balance_after_units",
    "counted_mg",
    "discrepancy_mg",
    "recorded_by",
    "witness",
    "patient",
    "corrects",
    "supplier",
    "supplier_dea_number",
    "invoice",
    "reason",
]


def _export_values(row: selectors.LedgerRow) -> list:
    entry = row.entry
    receipt = getattr(entry, "receipt", None)
    return [
        entry.pk,
        timezone.localtime(entry.recorded_at).isoformat(timespec="seconds"),
        entry.kind,
        entry.lot.drug,
        entry.lot.form,
        entry.lot.strength,
        entry.lot.lot_number,
        entry.lot.expires_on.isoformat(),
        entry.location,
        entry.change_mg,
        "" if row.units is None else row.units,
        entry.balance_after_mg,
        "" if row.balance_units is None else row.balance_units,
        "" if entry.counted_mg is None else entry.counted_mg,
        "" if entry.discrepancy_mg is None else entry.discrepancy_mg,
        entry.recorded_by.get_username(),
        entry.witness.get_username() if entry.witness else "",
        row.patient_label,
        entry.corrects_id or "",
        receipt.supplier_name if receipt else "",
        receipt.supplier_dea_number if receipt else "",
        receipt.invoice_number if receipt else "",
        entry.reason,
    ]


@roles_required(*selectors.LEDGER_ROLES)
def ledger_export(request, fmt):
    if fmt not in ("csv", "pdf"):
        raise Http404
    filter_form, filters, _ = _filters(request)
    if filter_form.is_bound and not filter_form.is_valid():
        return _ledger_page(request, status=400)
    rows = selectors.ledger_export_rows(user=request.user, filters=filters)
    period = f"{filters.since or 'start'}_{filters.until or timezone.localdate()}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([csv_cell(value) for value in _export_values(row)])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        html = render_to_string(
            "dosing/ledger_export.html",
            {"rows": rows, "filters": filters, "generated": timezone.localtime(), "user": request.user},
        )
        response = HttpResponse(pdf_from_html(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="controlled-substance-log_{period}.{fmt}"'
    return response


@roles_required(*selectors.LEDGER_ROLES)
def registrations(request, registration_form=None, location_form=None, status=200):
    context = {
        "registrations": selectors.registrations_listed(),
        "expiring": {r.pk for r in selectors.registrations_expiring()},
    }
    # Only the admin records registrations and locations (the template shows the forms to the admin alone), so
    # only the admin's page makes and draws them; an empty form's fields are drawn once (formrender.drawn_fields).
    if request.user.role == Role.ADMIN:
        registration_form = registration_form or RegistrationForm(prefix="registration")
        location_form = location_form or LocationForm(prefix="location")
        formrender.read_choices_once([registration_form, location_form])
        context["registration_fields"] = formrender.drawn_fields(registration_form)
        context["location_fields"] = formrender.drawn_fields(location_form)
    return render(request, "dosing/registrations.html", context, status=status)


@roles_required(Role.ADMIN)
@require_POST
def registration_action(request, kind):
    if kind not in ("registration", "location"):
        raise Http404
    form = (RegistrationForm if kind == "registration" else LocationForm)(request.POST, prefix=kind)
    if form.is_valid():
        try:
            if kind == "registration":
                services.registration_save(actor=request.user, **form.cleaned_data)
            else:
                services.location_add(actor=request.user, **form.cleaned_data)
        except services.DosingError as refusal:
            _refusal_to_form(form, refusal)
        else:
            messages.success(request, "Recorded.")
            return redirect("dosing:registrations")
    forms = {"registration_form": form} if kind == "registration" else {"location_form": form}
    return registrations(request, status=400, **forms)


@roles_required(*selectors.LEDGER_ROLES)
def loss_report(request, report_id):
    report = selectors.loss_report_get(report_id=report_id)
    form = LossReportFileForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.loss_report_file(actor=request.user, report=report, **form.cleaned_data)
            except services.DosingError as refusal:
                _refusal_to_form(form, refusal)
            else:
                messages.success(request, "Recorded.")
                return redirect("dosing:loss_report", report_id=report.pk)
        status = 400
    return render(request, "dosing/loss_report.html", {"report": report, "form": form}, status=status)
