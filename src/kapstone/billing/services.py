"""Writes for billing: the clinicians' billing identity, the fee schedule and the patient account.

Every write is atomic and audited. An account entry is appended under a lock on the account row, so entries
made at the same moment queue and each one's balance_after is the sum of all before it. Nothing is edited: a
mistaken charge is answered by an adjustment, a payment returned by a refund that names it.
"""

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.billing import codes
from kapstone.billing.models import (
    MAX_AMOUNT,
    MAX_BALANCE,
    AccountEntry,
    Fee,
    PatientAccount,
    StaffBillingProfile,
    validate_npi,
)
from kapstone.billing.selectors import billing_setting, current_fees, visit_label
from kapstone.patients.models import Patient
from kapstone.program.models import Enrolment, GroupSession

CENT = Decimal("0.01")
# Which facilitator renders a service of each kind: medical services by a prescriber, talking therapy by a
# therapist; a session without one falls back to any facilitator.
PRESCRIBER_KINDS = {"E/M", "psychotherapy add-on", "procedure", "esketamine"}


# An amount as typed into a form ("$1,250.00") or already a Decimal; _money() checks it.
Amount = Decimal | str


class BillingError(ValueError):
    """A billing write the service refuses, with a message for the person who asked."""


def _money(value: Amount) -> Decimal:
    """A positive amount of dollars and cents within the input limit, or BillingError saying what is wrong."""
    try:
        amount = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except (InvalidOperation, ValueError):
        raise BillingError(f"{value!r} is not an amount of money.") from None
    if not amount.is_finite():
        raise BillingError(f"{value!r} is not an amount of money.")
    if amount != amount.quantize(CENT):
        raise BillingError(f"{amount} has more than two decimal places.")
    if amount <= 0:
        raise BillingError("The amount must be more than zero.")
    if amount > MAX_AMOUNT:
        raise BillingError(f"{amount} is more than {MAX_AMOUNT}, the most one entry may carry.")
    return amount.quantize(CENT)


@transaction.atomic
def staff_profile_set(
    *, actor: User, user: User, npi: str, licence_number: str, licence_state: str
) -> StaffBillingProfile:
    if not user.is_clinician:
        raise BillingError("Only clinicians render billed services.")
    npi = npi.strip()
    if npi:
        try:
            validate_npi(npi)
        except ValidationError as problem:
            raise BillingError(" ".join(problem.messages)) from None
    licence_state = licence_state.strip().upper()
    if licence_state and (len(licence_state) != 2 or not licence_state.isalpha()):
        raise BillingError("The licence state is two letters, such as NY.")
    profile, _ = StaffBillingProfile.objects.update_or_create(
        user=user,
        defaults={"npi": npi, "licence_number": licence_number.strip(), "licence_state": licence_state},
    )
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        object_type="billing_profile",
        object_id=user.pk,
        detail={"npi": npi, "licence_number": profile.licence_number, "licence_state": licence_state},
    )
    return profile


@transaction.atomic
def fee_set(*, actor: User, code: str, amount: Amount, reason: str) -> Fee:
    if code not in codes.service_codes():
        raise BillingError(f"{code!r} is not in the practice's code set.")
    if not reason.strip():
        raise BillingError("Say why the fee is set or changed.")
    amount = _money(amount)
    current = current_fees().get(code)
    if current is not None and current.amount == amount:
        raise BillingError(f"The fee for {code} is already {amount}.")
    fee = Fee.objects.create(code=code, amount=amount, set_by=actor, set_at=timezone.now(), reason=reason.strip())
    audit.record(
        action=audit.Action.CREATE,
        actor=actor,
        object_type="fee",
        object_id=fee.pk,
        detail={"code": code, "amount": amount, "was": current.amount if current else None, "reason": reason},
    )
    return fee


def _locked_account(patient: Patient) -> PatientAccount:
    try:
        with transaction.atomic():
            PatientAccount.objects.get_or_create(patient=patient)
    except IntegrityError:
        pass  # another writer opened the account a moment ago; the locked read below finds it
    return PatientAccount.objects.select_for_update().get(patient=patient)


def _append(
    *, actor: User, patient: Patient, kind: str, amount: Decimal, on_date: datetime.date, **fields: object
) -> AccountEntry:
    if actor.role != Role.ADMIN:
        raise BillingError("Only billing staff record money on an account.")
    account = _locked_account(patient)
    balance = account.balance + amount * AccountEntry.SIGN[kind]
    if abs(balance) > MAX_BALANCE:
        raise BillingError(f"This entry would take the balance past {MAX_BALANCE}; check the amount.")
    entry = AccountEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        on_date=on_date,
        recorded_at=timezone.now(),
        recorded_by=actor,
        **fields,
    )
    account.balance = balance
    account.save(update_fields=["balance", "updated_at"])
    audit.record(
        action=audit.Action.CREATE,
        patient=patient,
        object_type="account_entry",
        object_id=entry.pk,
        detail={
            "kind": kind,
            "amount": amount,
            "balance_after": balance,
            **{k: getattr(v, "pk", v) for k, v in fields.items() if v not in ("", None)},
        },
    )
    return entry


def _visit(patient: Patient, session: GroupSession | None) -> GroupSession | None:
    if (
        session is not None
        and not Enrolment.objects.filter(
            group_id=session.group_id,
            patient=patient,
            status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED],
        ).exists()
    ):
        raise BillingError("The patient is not in this session's group.")
    return session


def _session_is_remote(session: GroupSession | None) -> bool:
    return bool(getattr(session, "is_remote", False))


@transaction.atomic
def charge_add(
    *,
    actor: User,
    patient: Patient,
    code: str,
    modifiers: str = "",
    units: int = 1,
    session: GroupSession | None = None,
    on_date: datetime.date | None = None,
    place_of_service: str = "",
    rendering_clinician: User | None = None,
) -> AccountEntry:
    """Charges one service at the practice's fee for its code (times the units)."""
    known = codes.service_codes()
    if code not in known:
        raise BillingError(f"{code!r} is not in the practice's code set.")
    fee = current_fees().get(code)
    if fee is None:
        raise BillingError(f"There is no fee for {code} yet: set it under Fees first.")
    try:
        modifier_list = codes.parse_modifiers(modifiers)
    except ValueError as problem:
        raise BillingError(str(problem)) from None
    if not isinstance(units, int) or not 1 <= units <= 99:
        raise BillingError("Units are a whole number from 1 to 99.")
    session = _visit(patient, session)
    place_of_service = place_of_service or codes.office_place(remote=_session_is_remote(session))
    if place_of_service not in codes.places_of_service():
        raise BillingError(f"{place_of_service!r} is not a place of service in the code set.")
    if rendering_clinician is not None and not rendering_clinician.is_clinician:
        raise BillingError("The rendering clinician must be a clinician.")
    if session is not None:
        on_date = timezone.localdate(session.starts_at)
    if on_date is None:
        raise BillingError("Give the date of service.")
    return _append(
        actor=actor,
        patient=patient,
        kind=AccountEntry.Kind.CHARGE,
        amount=_money(fee.amount * units),
        on_date=on_date,
        session_id=session.pk if session else None,
        visit_label=visit_label(session) if session else "",
        code=code,
        modifiers=",".join(modifier_list),
        units=units,
        place_of_service=place_of_service,
        rendering_clinician=rendering_clinician,
    )


def _renderer(session: GroupSession, kind: str) -> User | None:
    facilitators = list(session.facilitators.order_by("last_name", "pk"))
    wanted = Role.PRESCRIBER if kind in PRESCRIBER_KINDS else Role.THERAPIST
    return next((f for f in facilitators if f.role == wanted), facilitators[0] if facilitators else None)


@transaction.atomic
def visit_charges_add(*, actor: User, patient: Patient, session: GroupSession) -> list[AccountEntry]:
    """Charges the practice's usual services for this kind of visit (billing.visit_services), once."""
    _visit(patient, session)
    account = _locked_account(patient)
    if account.entries.filter(kind=AccountEntry.Kind.CHARGE, session_id=session.pk).exists():
        raise BillingError("This visit is already charged; add any further service one at a time.")
    planned = billing_setting("visit_services").get(session.kind, [])
    if not planned:
        raise BillingError(f"The practice bills no usual services for a {session.get_kind_display().lower()} visit.")
    known = codes.service_codes()
    modifiers = "95" if _session_is_remote(session) else ""
    return [
        charge_add(
            actor=actor,
            patient=patient,
            code=code,
            modifiers=modifiers,
            session=session,
            rendering_clinician=_renderer(session, known[code].kind),
        )
        for code in planned
    ]


@transaction.atomic
def payment_record(
    *,
    actor: User,
    patient: Patient,
    amount: Amount,
    method: str,
    reference: str = "",
    on_date: datetime.date,
    session: GroupSession | None = None,
) -> AccountEntry:
    """A payment taken outside Kapstone (card terminal, cash, check). A payment beyond the balance leaves the
    patient in credit, as when a course is paid ahead."""
    if method not in AccountEntry.Method.values or not method:
        raise BillingError("Say how the patient paid.")
    if on_date > timezone.localdate():
        raise BillingError("A payment cannot be dated in the future.")
    session = _visit(patient, session)
    return _append(
        actor=actor,
        patient=patient,
        kind=AccountEntry.Kind.PAYMENT,
        amount=_money(amount),
        on_date=on_date,
        method=method,
        reference=reference.strip(),
        session_id=session.pk if session else None,
        visit_label=visit_label(session) if session else "",
    )


@transaction.atomic
def adjustment_record(
    *, actor: User, patient: Patient, amount: Amount, reason: str, on_date: datetime.date
) -> AccountEntry:
    """Takes an amount off what the patient owes (a discount, a write-off, a charge made in error); never more
    than they owe, which would turn a write-off into money the practice owes back."""
    if not reason.strip():
        raise BillingError("Say why the account is adjusted.")
    amount = _money(amount)
    account = _locked_account(patient)
    if amount > account.balance:
        raise BillingError(f"The patient owes {max(account.balance, Decimal(0))}; an adjustment cannot take off more.")
    return _append(
        actor=actor,
        patient=patient,
        kind=AccountEntry.Kind.ADJUSTMENT,
        amount=amount,
        on_date=on_date,
        reason=reason.strip(),
    )


@transaction.atomic
def refund_record(
    *, actor: User, payment: AccountEntry, amount: Amount, reason: str, method: str, reference: str = ""
) -> AccountEntry:
    """Returns part or all of one payment; together its refunds never exceed it."""
    if payment.kind != AccountEntry.Kind.PAYMENT:
        raise BillingError("A refund returns a payment.")
    if not reason.strip():
        raise BillingError("Say why the payment is refunded.")
    if method not in AccountEntry.Method.values or not method:
        raise BillingError("Say how the money is returned.")
    amount = _money(amount)
    patient = payment.account.patient
    _locked_account(patient)  # taken before summing, so two refunds of one payment cannot both pass the check
    refunded = payment.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    if amount > payment.amount - refunded:
        raise BillingError(
            f"Only {payment.amount - refunded} of this {payment.amount} payment is left to refund "
            f"({refunded} already refunded)."
        )
    return _append(
        actor=actor,
        patient=patient,
        kind=AccountEntry.Kind.REFUND,
        amount=amount,
        on_date=timezone.localdate(),
        refund_of=payment,
        reason=reason.strip(),
        method=method,
        reference=reference.strip(),
    )


@transaction.atomic
def self_pay_set(*, actor: User, patient: Patient, self_pay: bool) -> PatientAccount:
    account = _locked_account(patient)
    account.self_pay = self_pay
    account.save(update_fields=["self_pay", "updated_at"])
    audit.record(
        action=audit.Action.UPDATE,
        actor=actor,
        patient=patient,
        object_type="billing_account",
        object_id=account.pk,
        detail={"self_pay": self_pay},
    )
    return account
