"""Money: the rendering clinician's billing identity, the practice's fees, and each patient's account.

Fees and account entries are append-only: a new fee supersedes the old one, and a mistake on an account is put
right by a new entry (an adjustment or a refund), never by editing one. The database refuses updates too
(migration 0002), so a raw queryset cannot rewrite the books.
"""

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from kapstone.patients.models import Patient

NPI_PATTERN = re.compile(r"^\d{10}$")
# An input limit, not a price: no single fee, payment or refund in a psychotherapy practice reaches it, so a
# larger amount is a typing slip. The balance bound keeps sums inside the columns' ten digits.
MAX_AMOUNT = Decimal("100000.00")
MAX_BALANCE = Decimal("10000000.00")
IMMUTABLE = "Account entries and fees are never changed; record a new entry instead."


def npi_is_valid(value: str) -> bool:
    """The NPI check digit: Luhn over the nine digits prefixed with 80840 (CMS, "Requirements for NPI check
    digit", the ISO 7812 card-issuer prefix for US health)."""
    if not NPI_PATTERN.match(value or ""):
        return False
    digits = [int(d) for d in "80840" + value[:9]]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10 == int(value[9])


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(f"{value!r} is not a valid NPI: ten digits whose last is the check digit.")


class StaffBillingProfile(models.Model):
    """What a superbill prints for the rendering clinician. Kept here rather than on the login, since only
    billing needs it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_profile")
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    licence_number = models.CharField("Licence number", max_length=40, blank=True)
    licence_state = models.CharField("Licence state", max_length=2, blank=True, help_text="Two letters, e.g. NY.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"billing profile of {self.user}"

    @property
    def licence(self) -> str:
        return " ".join(part for part in (self.licence_state, self.licence_number) if part)


class Fee(models.Model):
    """The practice's fee for one code from a moment on. The newest row for a code is in force."""

    code = models.CharField(max_length=5, db_index=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["code", "-set_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="fee_positive")]

    def __str__(self) -> str:
        return f"{self.code} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError(IMMUTABLE)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(IMMUTABLE)


class PatientAccount(models.Model):
    """One patient's running balance: what they owe (negative when they are in credit). The row is locked for
    every entry, so concurrent entries queue and the balance is always the sum of the entries."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="billing_account")
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    self_pay = models.BooleanField(
        "Pays the practice directly",
        default=True,
        help_text="Uninsured, or not asking the practice to bill an insurer: a Good Faith Estimate is due.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"account of patient {self.patient_id}"


class AccountEntry(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        PAYMENT = "payment", "Payment"
        ADJUSTMENT = "adjustment", "Adjustment"
        REFUND = "refund", "Refund"

    class Method(models.TextChoices):
        NONE = "", "—"
        CARD = "card", "Card (taken outside Kapstone)"
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        TRANSFER = "transfer", "Bank transfer"
        OTHER = "other", "Other"

    # How each kind moves what the patient owes.
    SIGN: dict[str, int] = {Kind.CHARGE: 1, Kind.PAYMENT: -1, Kind.ADJUSTMENT: -1, Kind.REFUND: 1}

    account = models.ForeignKey(PatientAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    balance_after = models.DecimalField(max_digits=12, decimal_places=2)
    # The date of service for a charge, the day the money moved for the others.
    on_date = models.DateField(db_index=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The visit a charge is for (and a payment made for it). No foreign key to program: a session may be moved or
    # removed, but the books keep what was billed.
    session_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    visit_label = models.CharField(max_length=120, blank=True)
    code = models.CharField(max_length=5, blank=True)
    modifiers = models.CharField(max_length=20, blank=True)
    units = models.PositiveSmallIntegerField(default=1)
    place_of_service = models.CharField(max_length=2, blank=True)
    rendering_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    reference = models.CharField(max_length=60, blank=True, help_text="Receipt, check or transaction number.")
    refund_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name_plural = "account entries"
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="entry_amount_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} on account {self.account_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError(IMMUTABLE)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(IMMUTABLE)

    @property
    def signed_amount(self) -> Decimal:
        return self.amount * self.SIGN[self.kind]

    @property
    def modifier_list(self) -> list[str]:
        return [m for m in self.modifiers.split(",") if m]
