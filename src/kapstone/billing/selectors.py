"""Reads for billing. Accounts are read through the care-team filter (patients_visible_to): admins, who do the
billing, see every account; clinicians see those of their care team; a patient sees only their own. Nothing
here reads a note of any kind: money and the record's diagnoses only."""

import datetime
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max, Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.audit import services as audit
from kapstone.billing import codes
from kapstone.billing.models import AccountEntry, Fee, PatientAccount, StaffBillingProfile
from kapstone.compiled_once import compiled_once
from kapstone.patients.models import Diagnosis, Patient
from kapstone.patients.selectors import patient_diagnoses, patient_for_portal_user, patient_get
from kapstone.practice.settings_store import practice_overrides, practice_value_of
from kapstone.practice.templatetags.kapstone_tags import day_in_words
from kapstone.program import course_templates
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.planning import PlanRefused, group_template

ZERO = Decimal("0.00")
AGING_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"), (91, None, "over 90 days"))


def billing_setting(name: str, overrides: Mapping[str, Any] | None = None) -> Any:  # Any: each has its own shape
    """`name` is a key of data/settings.yaml; the practice's value lives under `billing.<name>`. A caller reading
    several settings passes the practice's billing values read once (`practice_overrides("billing")`)."""
    return practice_value_of("billing", name, codes.settings_data()["settings"][name]["value"], overrides)


@compiled_once()
def _fees_in_force() -> QuerySet[Fee]:
    # Compiled once (kapstone.compiled_once): the estimate and every charge read it, its subquery compiled each time.
    latest = Fee.objects.values("code").annotate(last=Max("id")).values("last")
    return Fee.objects.filter(pk__in=latest).select_related("set_by")


def current_fees() -> dict[str, Fee]:
    """The fee in force for each code: the newest row per code."""
    return {fee.code: fee for fee in _fees_in_force()}


def fee_schedule() -> list[tuple[codes.ServiceCode, Fee | None]]:
    fees = current_fees()
    return [(service, fees.get(code)) for code, service in codes.service_codes().items()]


def visit_label(session: GroupSession) -> str:
    when = timezone.localtime(session.starts_at)
    return f"{session.get_kind_display()} session {session.number}, {when:%b} {when.day}, {when:%Y}"


def billing_profiles() -> list[tuple[object, StaffBillingProfile | None]]:
    clinicians = get_user_model().objects.filter(role__in=[Role.PRESCRIBER, Role.THERAPIST, Role.NURSE], is_active=True)
    profiles = {p.user_id: p for p in StaffBillingProfile.objects.filter(user__in=clinicians)}
    return [(user, profiles.get(user.pk)) for user in clinicians.order_by("last_name", "first_name")]


def billing_profile_of(*, user_id: int) -> tuple[User, StaffBillingProfile]:
    """A clinician and their billing details (an unsaved empty profile when none are recorded yet); 404 for anyone
    else."""
    user = get_object_or_404(get_user_model(), pk=user_id, role__in=CLINICAL_ROLES)
    return user, StaffBillingProfile.objects.filter(user=user).first() or StaffBillingProfile(user=user)


def care_team_clinicians(patient: Patient) -> list[User]:
    """The clinicians on the patient's care team: whom a charge may name as the one who saw them."""
    return [m.staff for m in patient.care_team_memberships.select_related("staff") if m.staff.is_clinician]


# The patient's account, read in the patient's query (a left join: a patient never billed has none).
ACCOUNT_WITH_PATIENT = ("billing_account",)


def account_of(patient: Patient) -> PatientAccount:
    """The patient's account; an unsaved empty one if nothing was ever billed (reads never create rows). The
    account pages read it with the patient (ACCOUNT_WITH_PATIENT)."""
    try:
        return patient.billing_account
    except PatientAccount.DoesNotExist:
        return PatientAccount(patient=patient)


def _entries(account: PatientAccount) -> list[AccountEntry]:
    if account.pk is None:
        return []
    return list(account.entries.select_related("rendering_clinician", "recorded_by", "refund_of"))


class AccountView:
    """A patient's account as a page reads it. The entries and the visits are read when a page first asks for them:
    the Good Faith Estimate shows neither, and read both (issue 19)."""

    def __init__(self, patient: Patient, account: PatientAccount) -> None:
        self.patient = patient
        self.account = account

    @cached_property
    def entries(self) -> list[AccountEntry]:
        return _entries(self.account)

    @cached_property
    def visits(self) -> list[GroupSession]:
        return patient_visits(self.patient)

    @cached_property
    def held_visits(self) -> list[GroupSession]:
        """The visits that have begun: the portal offers the patient a superbill for these only, since one for a
        session months away listed "for your insurer" read as if it were already billed."""
        now = timezone.now()
        return [session for session in self.visits if session.starts_at <= now]

    @cached_property
    def visit_choices(self) -> list[tuple[int, str]]:
        """The visits as the charge and payment forms offer them, labelled once for both."""
        return [(session.pk, visit_label(session)) for session in self.visits]

    @property
    def payments(self) -> list[AccountEntry]:
        return [e for e in self.entries if e.kind == AccountEntry.Kind.PAYMENT]


@compiled_once(patient_id=int)
def _visits_of(*, patient_id: int) -> QuerySet[GroupSession]:
    # Compiled once (kapstone.compiled_once): compiling its subquery took as long as the database took to answer.
    active = Enrolment.objects.filter(
        patient_id=patient_id, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED]
    )
    return (
        GroupSession.objects.filter(group__enrolments__in=active)
        .only("group_id", "kind", "number", "starts_at", "is_remote")
        .order_by("starts_at")
    )


def patient_visits(patient: Patient) -> list[GroupSession]:
    """The sessions of the patient's groups, with what the billing pages show of them (visit_label) and what a
    charge for one reads (its group, time and whether it is held by video); a visit's facilitators are read by the
    charge itself (services._renderer)."""
    return _visits_of(patient_id=patient.pk)


def _account_view(patient: Patient) -> AccountView:
    return AccountView(patient, account_of(patient))


def staff_account(*, user: User, patient_id: int | str) -> AccountView:
    patient = patient_get(user=user, patient_id=patient_id, purpose="billing account", related=ACCOUNT_WITH_PATIENT)
    return _account_view(patient)


def portal_account(*, user: User) -> AccountView:
    patient = patient_for_portal_user(user, related=ACCOUNT_WITH_PATIENT)
    audit.record(action=audit.Action.READ, patient=patient, object_type="billing_account", detail={"view": "portal"})
    return _account_view(patient)


def visit_of(view: AccountView, session_id: int | str) -> GroupSession:
    for session in view.visits:
        if str(session.pk) == str(session_id):
            return session
    raise Http404("No such visit for this patient.")


def payment_of(view: AccountView, entry_id: int | str) -> AccountEntry:
    for entry in view.payments:
        if str(entry.pk) == str(entry_id):
            return entry
    raise Http404("No such payment on this account.")


# --- superbills ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PracticeIdentity:
    name: str
    address: str
    npi: str
    tax_id: str

    @classmethod
    def current(cls, overrides: Mapping[str, Any] | None = None) -> "PracticeIdentity":
        """The practice's identity from its billing settings, read in one query unless the caller read them."""
        overrides = practice_overrides("billing") if overrides is None else overrides
        return cls(
            *(
                billing_setting(name, overrides) or ""
                for name in ("practice_name", "billing_address", "practice_npi", "tax_id")
            )
        )

    def missing(self) -> list[str]:
        labels = {
            "name": "the practice's name",
            "address": "the practice's address",
            "npi": "the practice's NPI",
            "tax_id": "the practice's tax ID",
        }
        return [
            f"Enter {label} in Practice settings (Billing)."
            for name, label in labels.items()
            if not getattr(self, name)
        ]


@dataclass(frozen=True)
class SuperbillLine:
    entry: AccountEntry
    label: str
    place_label: str
    clinician: User | None
    profile: StaffBillingProfile | None


@dataclass
class Superbill:
    title: str
    practice: PracticeIdentity
    patient: Patient
    diagnoses: list[Diagnosis]
    lines: list[SuperbillLine]
    payments: list[AccountEntry]
    refunds: list[AccountEntry]
    issued_on: datetime.date
    missing: list[str] = field(default_factory=list)

    @property
    def total_charges(self) -> Decimal:
        return sum((line.entry.amount for line in self.lines), ZERO)

    @property
    def total_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO) - sum((r.amount for r in self.refunds), ZERO)

    @property
    def complete(self) -> bool:
        return not self.missing


def _superbill(
    *,
    patient: Patient,
    title: str,
    charges: list[AccountEntry],
    payments: list[AccountEntry],
    refunds: list[AccountEntry],
) -> Superbill:
    services, places = codes.service_codes(), codes.places_of_service()
    clinician_ids = {e.rendering_clinician_id for e in charges if e.rendering_clinician_id}
    profiles = {p.user_id: p for p in StaffBillingProfile.objects.filter(user_id__in=clinician_ids)}
    lines = [
        SuperbillLine(
            entry=e,
            label=services[e.code].label if e.code in services else e.code,
            place_label=places[e.place_of_service].label if e.place_of_service in places else e.place_of_service,
            clinician=e.rendering_clinician,
            profile=profiles.get(e.rendering_clinician_id) if e.rendering_clinician_id else None,
        )
        for e in charges
    ]
    diagnoses = patient_diagnoses(patient=patient, limit=codes.claim_limit("diagnoses_per_claim"))
    practice = PracticeIdentity.current()
    missing = []
    if not diagnoses:
        missing.append(
            "No diagnosis on the patient's record: add an ICD-10-CM diagnosis to the record; an insurer refuses "
            "a superbill without one."
        )
    if not lines:
        missing.append("No services are charged for this visit or period yet.")
    missing += practice.missing()
    for line in lines:
        name = line.clinician.display_name if line.clinician else None
        if name is None:
            missing.append(f"{line.entry.code} on {day_in_words(line.entry.on_date)} names no rendering clinician.")
        elif line.profile is None or not line.profile.npi:
            missing.append(f"Enter the NPI of {name} (Billing > Clinicians).")
        elif not line.profile.licence:
            missing.append(f"Enter the licence of {name} (Billing > Clinicians).")
    return Superbill(
        title=title,
        practice=practice,
        patient=patient,
        diagnoses=diagnoses,
        lines=lines,
        payments=payments,
        refunds=refunds,
        issued_on=timezone.localdate(),
        missing=list(dict.fromkeys(missing)),
    )


def visit_superbill(view: AccountView, session: GroupSession) -> Superbill:
    of_visit = [e for e in view.entries if e.session_id == session.pk]
    payments = [e for e in of_visit if e.kind == AccountEntry.Kind.PAYMENT]
    paid_ids = {p.pk for p in payments}
    audit.record(
        action=audit.Action.READ,
        patient=view.patient,
        object_type="superbill",
        object_id=session.pk,
        detail={"visit": visit_label(session)},
    )
    return _superbill(
        patient=view.patient,
        title=f"Superbill: {visit_label(session)}",
        charges=[e for e in of_visit if e.kind == AccountEntry.Kind.CHARGE],
        payments=payments,
        refunds=[e for e in view.entries if e.refund_of_id in paid_ids],
    )


def period_superbill(view: AccountView, start: datetime.date, end: datetime.date) -> Superbill:
    within = [e for e in view.entries if start <= e.on_date <= end]
    audit.record(
        action=audit.Action.READ,
        patient=view.patient,
        object_type="superbill",
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return _superbill(
        patient=view.patient,
        title=f"Superbill: services from {start:%b} {start.day}, {start:%Y} to {end:%b} {end.day}, {end:%Y}",
        charges=[e for e in within if e.kind == AccountEntry.Kind.CHARGE],
        payments=[e for e in within if e.kind == AccountEntry.Kind.PAYMENT],
        refunds=[e for e in within if e.kind == AccountEntry.Kind.REFUND],
    )


# --- aging and the accountant's export ----------------------------------------------------------------------


@dataclass
class AgingRow:
    account: PatientAccount
    buckets: list[Decimal]

    @property
    def patient(self) -> Patient:
        return self.account.patient


def _open_debits(entries: list[AccountEntry]) -> list[tuple[datetime.date, Decimal]]:
    """What is still owed, by the date it arose: credits (payments, adjustments) settle the oldest debits
    (charges, refunds) first."""
    credit = sum((e.amount for e in entries if AccountEntry.SIGN[e.kind] < 0), ZERO)
    still_owed = []
    for entry in entries:
        if AccountEntry.SIGN[entry.kind] < 0:
            continue
        settled = min(credit, entry.amount)
        credit -= settled
        if entry.amount > settled:
            still_owed.append((entry.on_date, entry.amount - settled))
    return still_owed


def _bucket(days: int) -> int:
    for index, (low, high, _) in enumerate(AGING_BUCKETS):
        if days >= low and (high is None or days <= high):
            return index
    return 0  # dated in the future (a charge for a visit not yet held): current


def aging(*, as_of: datetime.date | None = None) -> tuple[list[AgingRow], list[Decimal]]:
    """Every account that owes money, with what it owes by age; and the column totals. Admins only."""
    as_of = as_of or timezone.localdate()
    accounts = (
        PatientAccount.objects.filter(balance__gt=0)
        .select_related("patient")
        .prefetch_related(Prefetch("entries", queryset=AccountEntry.objects.order_by("on_date", "id")))
        .order_by("patient__family_name", "patient__given_name", "pk")
    )
    rows = []
    totals = [ZERO for _ in AGING_BUCKETS]
    for account in accounts:
        buckets = [ZERO for _ in AGING_BUCKETS]
        for on_date, amount in _open_debits(list(account.entries.all())):
            buckets[_bucket((as_of - on_date).days)] += amount
        rows.append(AgingRow(account, buckets))
        totals = [t + b for t, b in zip(totals, buckets, strict=True)]
    audit.record(
        action=audit.Action.READ,
        object_type="billing_aging",
        detail={"as_of": as_of.isoformat(), "patient_ids": [row.account.patient_id for row in rows]},
    )
    return rows, totals


EXPORT_COLUMNS = [
    "entry_id",
    "date",
    "recorded_at",
    "record_number",
    "kind",
    "code",
    "modifiers",
    "units",
    "place_of_service",
    "amount",
    "signed_amount",
    "balance_after",
    "method",
    "reference",
    "refund_of",
    "reason",
    "recorded_by",
]


def export_rows(*, start: datetime.date, end: datetime.date) -> list[dict[str, object]]:
    """Every entry dated in the period, for the accountant: the record number names the patient, no more."""
    entries = (
        AccountEntry.objects.filter(on_date__gte=start, on_date__lte=end)
        .select_related("account__patient", "recorded_by")
        .order_by("on_date", "id")
    )
    rows: list[dict[str, object]] = [
        {
            "entry_id": e.pk,
            "date": e.on_date.isoformat(),
            "recorded_at": timezone.localtime(e.recorded_at).isoformat(timespec="seconds"),
            "record_number": e.account.patient.record_number,
            "kind": e.kind,
            "code": e.code,
            "modifiers": e.modifiers,
            "units": e.units if e.kind == AccountEntry.Kind.CHARGE else "",
            "place_of_service": e.place_of_service,
            "amount": e.amount,
            "signed_amount": e.signed_amount,
            "balance_after": e.balance_after,
            "method": e.method,
            "reference": e.reference,
            "refund_of": e.refund_of_id or "",
            "reason": e.reason,
            "recorded_by": e.recorded_by.get_username(),
        }
        for e in entries
    ]
    audit.record(
        action=audit.Action.EXPORT,
        object_type="billing_export",
        detail={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "rows": len(rows),
            "patient_ids": sorted({e.account.patient_id for e in entries}),
        },
    )
    return rows


# --- statements ---------------------------------------------------------------------------------------------


@dataclass
class Statement:
    practice: PracticeIdentity
    patient: Patient
    entries: list[AccountEntry]
    balance: Decimal
    issued_on: datetime.date
    by_kind: dict[str, Decimal] = field(default_factory=dict)


def statement(view: AccountView) -> Statement:
    by_kind: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entry in view.entries:
        by_kind[entry.kind] += entry.amount
    audit.record(action=audit.Action.READ, patient=view.patient, object_type="billing_statement")
    return Statement(
        practice=PracticeIdentity.current(),
        patient=view.patient,
        entries=view.entries,
        balance=view.account.balance,
        issued_on=timezone.localdate(),
        by_kind={AccountEntry.Kind(kind).label: amount for kind, amount in by_kind.items()},
    )


# --- the Good Faith Estimate (45 CFR 149.610) ---------------------------------------------------------------

VISIT_ORDER = (
    course_templates.SessionKind.PREPARATION,
    course_templates.SessionKind.DOSING,
    course_templates.SessionKind.INTEGRATION,
    course_templates.SessionKind.FOLLOW_UP,
)
VISIT_NAMES = {
    "preparation": "Preparation sessions",
    "dosing": "Ketamine sessions (dosing)",
    "integration": "Integration sessions",
    "follow_up": "Follow-up visits",
}


@dataclass(frozen=True)
class EstimateLine:
    visit: str
    code: str
    label: str
    quantity: int
    unit_fee: Decimal | None

    @property
    def total(self) -> Decimal | None:
        return None if self.unit_fee is None else self.unit_fee * self.quantity


@dataclass
class GoodFaithEstimate:
    practice: PracticeIdentity
    patient: Patient
    course_name: str
    course_description: str
    starts_on: datetime.date | None
    diagnoses: list[Diagnosis]
    lines: list[EstimateLine]
    disclaimers: list[str]
    issued_on: datetime.date
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines if line.total is not None), ZERO)


@compiled_once(patient_id=int)
def _current_enrolment(*, patient_id: int) -> QuerySet[Enrolment]:
    # Compiled once (kapstone.compiled_once), as the estimate's other reads are.
    return (
        Enrolment.objects.filter(
            patient_id=patient_id, status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.WAITLISTED]
        )
        .select_related("group")
        .order_by("-group__start_date", "-pk")[:1]
    )


def estimate_course(
    patient: Patient, template_id: str = ""
) -> tuple[course_templates.CourseTemplate | None, datetime.date | None, dict[str, course_templates.CourseTemplate]]:
    """The course an estimate is for: the patient's current group's template version, else the template asked
    for, else None; and the templates read to choose from (none when the group's version was found)."""
    enrolments = _current_enrolment(patient_id=patient.pk)
    enrolment = enrolments[0] if enrolments else None
    if enrolment is not None:
        try:
            return group_template(enrolment.group), enrolment.group.start_date, {}
        except PlanRefused:
            pass  # the group's version is no longer installed: the practice picks a template below
    templates = course_templates.load_templates()
    return templates.get(template_id), None, templates


def good_faith_estimate(
    *, patient: Patient, template: course_templates.CourseTemplate, starts_on: datetime.date | None
) -> GoodFaithEstimate:
    services, fees = codes.service_codes(), current_fees()
    practice_values = practice_overrides("billing")
    planned = billing_setting("visit_services", practice_values)
    lines = [
        EstimateLine(
            visit=VISIT_NAMES[kind.value],
            code=code,
            label=services[code].label,
            quantity=template.count(kind),
            unit_fee=fees[code].amount if code in fees else None,
        )
        for kind in VISIT_ORDER
        for code in planned.get(kind.value, [])
        if template.count(kind)
    ]
    practice = PracticeIdentity.current(practice_values)
    diagnoses = patient_diagnoses(patient=patient, limit=codes.claim_limit("diagnoses_per_claim"))
    missing = practice.missing()
    missing += [f"Set a fee for {line.code} ({line.label}) under Fees." for line in lines if line.unit_fee is None]
    if not lines:
        missing.append("The practice bills no services for this course: set Services billed for each kind of visit.")
    if not diagnoses:
        missing.append("No diagnosis on the patient's record: add the ICD-10-CM diagnosis the course treats.")
    audit.record(
        action=audit.Action.READ,
        patient=patient,
        object_type="good_faith_estimate",
        detail={"template": template.id, "version": template.version},
    )
    return GoodFaithEstimate(
        practice=practice,
        patient=patient,
        course_name=template.name,
        course_description=" ".join(template.description.split()),
        starts_on=starts_on,
        diagnoses=diagnoses,
        lines=lines,
        disclaimers=codes.estimate_disclaimers(),
        issued_on=timezone.localdate(),
        missing=list(dict.fromkeys(missing)),
    )
