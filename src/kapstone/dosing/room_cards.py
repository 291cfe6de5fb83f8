"""The dosing room's patient cards, written out in Python.

Drawn by the template, a card (its badges, the readiness and safety banners, the order, the vitals table, the ratings
and notes) was about a hundred values each looked up, filtered and escaped by the template engine: a third of a
millisecond a card, more than drawing its ten forms. Written out here, the markup is exactly what the template drew:
tests/dosing/test_room_cards.py draws cards of every state both ways. Every banner and refusal is the readiness's
own text (selectors.DoseReadiness), shown under the same conditions as the template showed it (issue 19).
"""

import datetime
from typing import Protocol

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime

from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.dosing.models import DoseRecord
from kapstone.dosing.selectors import RoomPatient
from kapstone.dosing.services import CHECK_IN_FIRST
from kapstone.formrender import shown
from kapstone.patients.models import ChildbearingPotential, Patient

# Who the cards offer the form that gives a dose.
DOSE_GIVING_ROLES = frozenset({Role.PRESCRIBER, Role.NURSE})
# Where the form to give a dose would be on a card with no order yet: every lot in the room was offered for a dose no
# one had prescribed, which the service then refused ("There is no dose order yet.").
NO_ORDER_YET = (
    "<details>\n  <summary>Give the dose</summary>\n"
    '  <p class="muted">No dose is ordered yet: the prescriber\'s order comes first. Once it is written, the lots that '
    "fit its route are offered here.</p>\n</details>\n"
)


class CardForms(Protocol):
    """A card's forms by action, each drawn in its disclosure when asked for (views._CardForms)."""

    def __getitem__(self, action: str) -> str: ...

    def posted_here(self, action: str) -> bool:
        """Whether this card's form for `action` is the one just sent back with its errors."""
        ...


def _time(value: datetime.datetime | None) -> str:
    """`{{ value|time:"H:i" }}`: in the practice's time zone, hours and minutes padded with zeros; "" for none."""
    if value is None:
        return ""
    if is_aware(value):
        value = localtime(value)
    return f"{value.hour:02d}:{value.minute:02d}"


def _last_name(user: User | None) -> str:
    """`{{ user.last_name }}`, "" when there is no one."""
    return shown(user.last_name) if user is not None else ""


def _full_name_or_username(user: User | None) -> str:
    """`{{ user.get_full_name|default:user.get_username }}`."""
    return shown(user.get_full_name() or user.get_username()) if user is not None else ""


def _joined(messages: list[str]) -> str:
    """`{{ messages|join:"; " }}`: each message escaped."""
    return "; ".join(shown(message) for message in messages)


def _or_dash(value: object) -> str:
    """`{{ value|default_if_none:"—" }}`."""
    return "—" if value is None else shown(value)


def _capfirst(text: str) -> str:
    """`{{ text|capfirst }}`."""
    return shown(text and text[0].upper() + text[1:])


def _badges(entry: RoomPatient, record: DoseRecord | None) -> str:
    if record is not None and record.discharged_at:
        state = f'<span class="badge ok">discharged {_time(record.discharged_at)}</span>\n  '
    elif record is not None and record.administered_at:
        state = f'<span class="badge">dosed {_time(record.administered_at)}</span>\n  '
    elif record is not None and record.checked_in_at:
        state = '<span class="badge">checked in</span>'
    else:
        state = '<span class="badge">not checked in</span>'
    alert = ""
    if entry.alert_level == "stop":
        alert = '<span class="badge danger" role="alert">STOP alert</span>'
    elif entry.alert_level == "review":
        alert = '<span class="badge warn">review</span>'
    checklist = ""
    if record is not None and record.checked_in_at and not record.administered_at:
        checklist = f'  <p class="muted">Checklist: {shown(record.checklist_in_words)}</p>\n'
    return f"  <p>\n  {state}\n  {alert}\n  </p>\n{checklist}"


def childbearing_link(patient: Patient) -> SafeString:
    """Where a pregnancy check refused for want of a documented "no childbearing potential" is put right: the
    patient page's childbearing card."""
    return format_html(
        '<a href="{}#childbearing">Record {}\'s childbearing potential on the patient page</a>.',
        reverse("patients:detail", args=[patient.pk]),
        patient.full_name,
    )


def _banner(kind: str, pk: str, heading: str, body: str) -> str:
    """An alert banner, as an `{% if %}` block of the card wrote it: between the block's own lines."""
    return (
        f'\n  <div class="alert-banner" aria-labelledby="{kind}-{pk}">\n'
        f'    <h3 id="{kind}-{pk}">⚠ {heading}</h3>\n    {body}\n  </div>\n  '
    )


def _readiness(entry: RoomPatient, record: DoseRecord | None, pk: str) -> str:
    """The banners and notices of what stands between the patient and a dose."""
    ready, awaiting = entry.readiness, entry.awaiting_dose
    parts = ["  \n"]
    gate = ""
    if awaiting and ready.gate_blockers:
        reasons = "".join(f"<li>{_capfirst(reason)}</li>" for reason in ready.gate_blockers)
        gate = _banner("gate", pk, "Cannot be dosed today: the enrolment gate is closed", f"<ul>{reasons}</ul>")
    parts.append(f"  {gate}\n")
    if awaiting and ready.at_weekly_limit:
        week = _banner(
            "week", pk, "Cannot be dosed today: weekly limit reached", f"<p>{shown(ready.spacing_refusal)}</p>"
        )
    else:
        this_one = " this one" if record is not None and record.administered_at else ""
        week = (
            f"\n  <p><strong>Doses in the 7 days before{this_one}:</strong> {shown(ready.doses_in_week_before)} "
            f"(at most {shown(ready.weekly_limit)} a week)</p>\n  "
        )
    parts.append(f"  {week}\n")
    same_day = ""
    if awaiting and ready.same_day_refusal:
        same_day = _banner(
            "same-day", pk, "Cannot be dosed today: already dosed today", f"<p>{shown(ready.same_day_refusal)}</p>"
        )
    parts.append(f"  {same_day}\n")
    observed = ""
    if awaiting and ready.observation_refusal:
        observed = _banner(
            "observed",
            pk,
            "Cannot be dosed now: still under observation after another dose",
            f"<p>{shown(ready.observation_refusal)}</p>",
        )
    parts.append(f"  {observed}\n")
    vitals = ""
    if awaiting and ready.vitals_refusal:
        vitals = _banner(
            "vitals",
            pk,
            "Cannot be dosed now: pre-dose vitals at a stop level",
            f"<p>{shown(ready.vitals_refusal)}</p>",
        )
    elif awaiting and ready.vitals_review:
        if ready.review_acknowledged:
            assert ready.predose_reading is not None  # a review is of the latest pre-dose reading
            reviewed = (
                f'\n  <p class="notice"><strong>Pre-dose BP reviewed</strong> by '
                f"{_full_name_or_username(record.ordered_by if record else None)} with the order: "
                f"{_joined(ready.predose_reading.alert_messages)}</p>\n  "
            )
        else:
            refusal = ready.review_refusal if record is not None and record.dose_mg else ready.vitals_review
            reviewed = _banner("review", pk, "Pre-dose BP to review before the dose", f"<p>{shown(refusal)}</p>")
        vitals = f"\n  {reviewed}\n  "
    parts.append(f"  {vitals}\n")
    sedation = ""
    if awaiting and ready.sedation_refusal:
        sedation = _banner(
            "sedation", pk, "Cannot be dosed now: sedated before the dose", f"<p>{shown(ready.sedation_refusal)}</p>"
        )
    parts.append(f"  {sedation}\n")
    risk = ""
    if awaiting and ready.risk_refusal:
        risk = _banner(
            "risk",
            pk,
            "Suicide risk: a prescriber's same-day assessment is needed",
            f"<p>{shown(ready.risk_refusal)}</p>",
        )
    elif ready.risk_decision:
        decision = ready.risk_decision
        risk = (
            f'\n  <p class="notice"><strong>Suicide risk assessed</strong> by '
            f"{_full_name_or_username(decision.recorded_by)} at {_time(decision.recorded_at)}: "
            f"{shown(str(decision.get_method_display()).lower())}, risk level {shown(str(decision.get_risk_level_display()).lower())}; "
            f"{shown(str(decision.get_decision_display()).lower())}.</p>\n  "
        )
    parts.append(f"  {risk}\n")
    screens = ""
    if ready.risk_assessments and (not awaiting or not ready.risk_refusal):
        times = "; ".join(
            f"{_time(a.recorded_at)}, {shown(str(a.get_risk_level_display()).lower())}" for a in ready.risk_assessments
        )
        screens = f'<p class="muted">Same-day suicide screen: {times}</p>'
    parts.append(f"  {screens}\n")
    review = ""
    if awaiting and ready.safety_review_refusal:
        review = _banner(
            "safety-review",
            pk,
            "Safety finding to review before the dose",
            f"<p>{shown(ready.safety_review_refusal)}</p>",
        )
    parts.append(f"  {review}\n")
    allergy = ""
    if awaiting and ready.allergy_refusal:
        allergy = _banner(
            "allergy", pk, "Confirmed allergic reaction to the drug", f"<p>{shown(ready.allergy_refusal)}</p>"
        )
    parts.append(f"  {allergy}\n")
    pregnancy = ""
    if awaiting and record is not None and record.checked_in_at and ready.pregnancy_refusal:
        # Marked not applicable (or not yet recorded) without "no" on the record: say where that is recorded.
        fix = (
            f" {childbearing_link(entry.patient)}"
            if record.pregnancy_test in (DoseRecord.PregnancyTest.NOT_APPLICABLE, "")
            and entry.patient.childbearing_potential != ChildbearingPotential.NO
            else ""
        )
        pregnancy = _banner(
            "pregnancy", pk, "Pregnancy check not passed", f"<p>{shown(ready.pregnancy_refusal)}{fix}</p>"
        )
    parts.append(f"  {pregnancy}\n")
    medicines = ""
    if awaiting and ready.medication_refusal:
        medicines = _banner(
            "meds", pk, "New medicines to review before the dose", f"<p>{shown(ready.medication_refusal)}</p>"
        )
    parts.append(f"  {medicines}\n  \n")
    return "".join(parts)


def _dose(entry: RoomPatient, record: DoseRecord | None) -> str:
    """When the post-dose vitals are due, the order and the dose given."""
    check = entry.post_dose
    due = ""
    if check is not None:
        if check.done:
            assert check.reading is not None  # done is a reading taken
            state = f"done at {_time(check.reading.taken_at)}"
        elif check.overdue:
            state = "<strong>not taken yet, due now</strong>"
        else:
            state = "not taken yet"
        discharge = ""
        if record is not None and not record.discharged_at:
            discharge = (
                f"<br><strong>Discharge:</strong> not before {_time(check.observed_until)} "
                f"({shown(check.observation_minutes)} min of observation)"
            )
        due = (
            f'\n  <p class="notice"><strong>Vitals {shown(check.minutes_after_dose)} min after the dose:</strong> '
            f"due {_time(check.due_at)} ·\n  {state}{discharge}</p>\n  "
        )
    order = given = ""
    if record is not None and record.dose_mg:
        per_kg = f" ({shown(record.mg_per_kg)} mg/kg)" if record.mg_per_kg else ""
        # The stored dose keeps one decimal place ("200.0"); shown as `floatformat` does, without a trailing ".0", as
        # the practice ceiling is written in the note beside it ("Within the ceiling of 400 mg.").
        order = (
            f"<p><strong>Order:</strong> {shown(record.get_route_display())} {shown(record.dose_mg.normalize())} mg"
            f"{per_kg} by "
            f'{_last_name(record.ordered_by)} · <span class="muted">{shown(record.ceiling_note)}</span></p>'
        )
    if record is not None and record.administered_at:
        lot = shown(record.lot.lot_number) if record.lot is not None else ""
        given = (
            f"<p><strong>Given</strong> {_time(record.administered_at)} by {_last_name(record.administered_by)}, "
            f"witness {_last_name(record.witness)}, lot {lot}</p>"
        )
    return f"  {due}\n  {order}\n  {given}\n"


VITALS_HEAD = (
    '  <h3>Vitals</h3>\n  <table class="vitals"><thead><tr><th scope="col">Time</th><th scope="col">When</th>'
    '<th scope="col">BP <span class="unit">mmHg</span></th><th scope="col">HR <span class="unit">/min</span></th>'
    '<th scope="col">SpO₂ <span class="unit">%</span></th><th scope="col">RR <span class="unit">/min</span></th></tr></thead>'
    "<tbody>\n"
)


def _vitals(entry: RoomPatient) -> str:
    rows = []
    for v in entry.vitals:
        level = f"vital-{shown(v.alert_level)}" if v.alert_level else ""
        alert = ""
        if v.alert_messages:
            alert = (
                f'<tr class="vital-{shown(v.alert_level)}"><td colspan="6" role="alert">⚠ '
                f"{_joined(v.alert_messages)}</td></tr>"
            )
        rows.append(
            f'<tr class="{level}"><td>{_time(v.taken_at)}</td><td>{shown(v.get_phase_display())}</td>'
            f"<td>{shown(v.systolic)}/{shown(v.diastolic)}</td><td>{shown(v.heart_rate)}</td><td>{shown(v.spo2)}</td>"
            f"<td>{_or_dash(v.respiratory_rate)}</td></tr>\n  {alert}\n  "
        )
    body = "".join(rows) or '<tr><td colspan="6" class="muted">No vitals recorded yet.</td></tr>'
    return f"{VITALS_HEAD}  {body}</tbody></table>\n"


def _after(record: DoseRecord | None) -> str:
    """The ratings, adverse events and notes."""
    ratings = events = notes = ""
    if record is not None and (record.sedation_moaas is not None or record.dissociation_cadss is not None):
        rated = ""
        if record.ratings_at:
            before = (
                f"; before the dose MOAA/S {shown(record.predose_moaas)}" if record.predose_moaas is not None else ""
            )
            rated = f' <span class="muted">(rated {_time(record.ratings_at)}{before})</span>'
        ratings = (
            f"<p>MOAA/S {_or_dash(record.sedation_moaas)} · CADSS {_or_dash(record.dissociation_cadss)}{rated}</p>"
        )
    if record is not None:
        events = "".join(
            f'<p class="badge warn">AE: {shown(ae.kind)} ({shown(ae.get_severity_display())}'
            f"{', allergic reaction to the drug' if ae.hypersensitivity else ''})</p>"
            for ae in record.adverse_events.all()
        )
        if record.notes:
            notes = f'<pre class="notes">{shown(record.notes)}</pre>'
    return f"  {ratings}\n  {events}\n  {notes}\n"


# The card's forms that discharge closes (services._lock_open refuses them), all but the note.
_CLOSED_AT_DISCHARGE = (
    "checkin",
    "vitals",
    "risk",
    "medreview",
    "order",
    "administer",
    "ratings",
    "adverse",
    "discharge",
)


# The card forms that follow the check-in (services.CHECK_IN_FIRST).
AFTER_CHECK_IN = ("ratings", "adverse", "discharge")


def _after_check_in(clinician: bool) -> str:
    """Where a card not yet checked in would offer the forms that follow the check-in, what comes first."""
    then = "record an adverse event"
    if clinician:
        then = "rate sedation and dissociation, record an adverse event and discharge"
    return f'<p class="muted after-check-in">{CHECK_IN_FIRST}; then you can {then} here.</p>'


def _forms(entry: RoomPatient, record: DoseRecord | None, forms: CardForms, role: str | None) -> str:
    """The card's forms, as the roles and the record allow them; each drawn only when shown."""
    shown_forms = ""
    if record is None or not record.discharged_at:
        # Once the dose is given, the forms that lead up to it are closed (their services refuse them), unless one
        # was just sent back with the refusal, which it shows.
        before_dose = record is None or not record.administered_at

        def offered(action: str) -> bool:
            return before_dose or forms.posted_here(action)

        checkin = forms["checkin"] if offered("checkin") else ""
        # The suicide screen stays open after the dose, until discharge: a patient who speaks of suicide while observed
        # is screened, and a moderate or high risk holds discharge (services.risk_assessment_record).
        risk = forms["risk"] if role != Role.ADMIN else ""
        to_review = role == Role.PRESCRIBER and entry.awaiting_dose and entry.readiness.medicines_to_review
        medreview = forms["medreview"] if to_review else ""
        order = forms["order"] if offered("order") and role == Role.PRESCRIBER else ""
        administer = ""
        if offered("administer") and role in DOSE_GIVING_ROLES:
            ordered = record is not None and record.dose_mg is not None
            # A form sent back (its refusal shown) stays open as it was sent.
            administer = forms["administer"] if ordered or forms.posted_here("administer") else NO_ORDER_YET
        lines = [checkin, forms["vitals"], risk, medreview, order, administer]
        # Rating sedation and dissociation and deciding the patient may leave are clinicians' (services.ratings_record,
        # services.discharge).
        clinician = role in CLINICAL_ROLES
        # They follow the check-in (their services refuse them before it): until then the card says what comes first.
        if (record is not None and record.checked_in_at) or any(map(forms.posted_here, AFTER_CHECK_IN)):
            lines += [forms["ratings"] if clinician else "", forms["adverse"], forms["discharge"] if clinician else ""]
        else:
            lines.append(_after_check_in(clinician))
        shown_forms = "\n  " + "".join(f"{line}\n  " for line in lines)
    else:
        # Once discharged, the card offers the note alone; a form sent anyway (from a tablet still showing it, or a
        # second click) is drawn with the refusal that says why, which a 400 with nothing on the card did not.
        refused = "".join(f"{forms[action]}\n  " for action in _CLOSED_AT_DISCHARGE if forms.posted_here(action))
        shown_forms = f"\n  {refused}" if refused else ""
    return f"  {shown_forms}\n  {forms['note']}\n"


def room_card(entry: RoomPatient, forms: CardForms, *, role: str | None) -> SafeString:
    """One patient's card, with the lines around it the room's loop wrote: `forms` are the card's forms by action
    (views._CardForms), `role` the viewer's."""
    record, patient = entry.record, entry.patient
    pk = shown(patient.pk)
    level = {"stop": " alert-stop", "review": " alert-review"}.get(entry.alert_level, "")
    return mark_safe(  # noqa: S308 - every value is escaped by shown(); the forms are drawn forms
        f'\n<section class="card room-card{level}" id="patient-{pk}" aria-labelledby="h-{pk}">\n'
        f'  <h2 id="h-{pk}">{shown(patient.name_with_pronouns)}</h2>\n'
        + _badges(entry, record)
        + _readiness(entry, record, pk)
        + _dose(entry, record)
        + _vitals(entry)
        + _after(record)
        + _forms(entry, record, forms, role)
        + "</section>\n\n"
    )
