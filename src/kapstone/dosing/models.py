from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from kapstone.dosing import catalogue
from kapstone.patients.models import Patient
from kapstone.program.models import GroupSession


class Route(models.TextChoices):
    IM = "im", "Intramuscular"
    SUBLINGUAL = "sublingual", "Sublingual lozenge"
    IV = "iv", "Intravenous"
    INTRANASAL = "intranasal", "Intranasal"


class DoseRecord(models.Model):
    """One patient's part of one dosing session: checklist, order, administration, ratings and discharge."""

    class PregnancyTest(models.TextChoices):
        NOT_APPLICABLE = "n/a", "Not applicable"
        NEGATIVE = "negative", "Negative"
        POSITIVE = "positive", "Positive"
        NOT_DONE = "", "Not done yet"

    class MedicationChanges(models.TextChoices):
        NOT_ASKED = "", "Not asked yet"
        NONE = "no", "No changes since screening"
        CHANGED = "yes", "Changed since screening"

    session = models.ForeignKey(GroupSession, on_delete=models.PROTECT, related_name="dose_records")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dose_records")
    checked_in_at = models.DateTimeField(null=True, blank=True)
    # Pre-dose checklist
    fasting_confirmed = models.BooleanField(default=False)
    escort_arranged = models.BooleanField(default=False)
    pregnancy_test = models.CharField(max_length=10, choices=PregnancyTest.choices, blank=True)
    pregnancy_test_on = models.DateField(null=True, blank=True, help_text="The day the recorded test was taken.")
    # "Medication changes since screening?", asked at check-in; the names given are compared with the screened
    # intake like the record's own medications.
    medication_changes = models.CharField(max_length=3, choices=MedicationChanges.choices, blank=True)
    new_medications = models.TextField(blank=True, help_text="One medicine a line.")
    # The prescriber's review of the new medicines the screening rules would review (names as reviewed).
    medication_reviewed = models.JSONField(default=list, blank=True)
    medication_review_note = models.TextField(blank=True)
    medication_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    medication_reviewed_at = models.DateTimeField(null=True, blank=True)
    intention = models.TextField(blank=True)
    weight_kg = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("25")), MaxValueValidator(Decimal("350"))],
    )
    # The prescriber's order
    route = models.CharField(max_length=12, choices=Route.choices, blank=True)
    dose_mg = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="dose_orders"
    )
    ordered_at = models.DateTimeField(null=True, blank=True)
    ceiling_note = models.CharField(max_length=300, blank=True)
    predose_review_reading = models.ForeignKey(
        "VitalsReading",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The review-level pre-dose reading the prescriber acknowledged when ordering.",
    )
    # Administration
    administered_at = models.DateTimeField(null=True, blank=True)
    lot = models.ForeignKey("SubstanceLot", null=True, blank=True, on_delete=models.PROTECT)
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="doses_given"
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="doses_witnessed"
    )
    # Ratings
    # The latest ratings, and when they were taken; a MOAA/S rated before the dose is kept apart: below alert, it
    # holds the dose (DoseReadiness.sedation_refusal).
    sedation_moaas = models.PositiveSmallIntegerField(null=True, blank=True)
    dissociation_cadss = models.PositiveSmallIntegerField(null=True, blank=True)
    ratings_at = models.DateTimeField(null=True, blank=True)
    predose_moaas = models.PositiveSmallIntegerField(null=True, blank=True)
    dissociation_attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dissociation_attestation_note = models.TextField(blank=True)
    # Discharge
    discharge_vitals_ok = models.BooleanField(default=False)
    discharge_alert_oriented = models.BooleanField(default=False)
    discharge_escort_present = models.BooleanField(default=False)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="discharges"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["session__starts_at", "patient__family_name"]
        constraints = [models.UniqueConstraint(fields=["session", "patient"], name="one_dose_record_per_session")]
        # The ledger's waste form offers the doses of the last days: without this PostgreSQL read every dose the
        # practice ever gave to find them.
        indexes = [models.Index(fields=["administered_at"], name="dose_given_at")]

    def __str__(self) -> str:
        return f"{self.patient} at {self.session}"

    @property
    def mg_per_kg(self) -> Decimal | None:
        if self.dose_mg is None or not self.weight_kg:
            return None
        return (self.dose_mg / self.weight_kg).quantize(Decimal("0.01"))

    @property
    def checklist_in_words(self) -> str:
        """The pre-dose checklist as recorded, for the room's card: its form opens empty, so without this the card
        said only "checked in" and not what was checked."""
        pregnancies: dict[str, str] = {
            self.PregnancyTest.NOT_APPLICABLE: "pregnancy test not applicable",
            self.PregnancyTest.NEGATIVE: "pregnancy test negative"
            + (f" ({self.pregnancy_test_on.day} {self.pregnancy_test_on:%b})" if self.pregnancy_test_on else ""),
            self.PregnancyTest.POSITIVE: "pregnancy test POSITIVE",
        }
        pregnancy = pregnancies.get(self.pregnancy_test, "no pregnancy test recorded")
        changes: dict[str, str] = {
            self.MedicationChanges.NONE: "no medicine changes since screening",
            self.MedicationChanges.CHANGED: "medicines changed since screening",
        }
        medicines = changes.get(self.medication_changes, "medicine changes not asked")
        return " · ".join(
            [
                "fasting confirmed" if self.fasting_confirmed else "fasting not confirmed",
                "escort arranged" if self.escort_arranged else "no escort arranged",
                pregnancy,
                f"{self.weight_kg} kg" if self.weight_kg is not None else "not weighed today",
                medicines,
            ]
        )


class VitalsReading(models.Model):
    class Phase(models.TextChoices):
        PRE_DOSE = "pre", "Before dosing"
        PEAK = "peak", "About 40 min after"
        DISCHARGE = "discharge", "Before discharge"
        OTHER = "other", "Other"

    record = models.ForeignKey(DoseRecord, on_delete=models.CASCADE, related_name="vitals")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    taken_at = models.DateTimeField()
    # Input limits that catch a typing slip (a reading no monitor in the room would show), not clinical numbers: the
    # review, stop and low levels a reading is judged by are cited in data/safety.yaml.
    systolic = models.PositiveSmallIntegerField(validators=[MinValueValidator(50), MaxValueValidator(300)])
    diastolic = models.PositiveSmallIntegerField(validators=[MinValueValidator(20), MaxValueValidator(200)])
    heart_rate = models.PositiveSmallIntegerField(validators=[MinValueValidator(20), MaxValueValidator(250)])
    spo2 = models.PositiveSmallIntegerField(validators=[MinValueValidator(50), MaxValueValidator(100)])
    respiratory_rate = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(2), MaxValueValidator(60)]
    )
    alert_level = models.CharField(max_length=10, blank=True, help_text="'', review or stop")
    alert_messages = models.JSONField(default=list, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)

    class Meta:
        ordering = ["taken_at", "id"]

    def __str__(self) -> str:
        breathing = f" RR {self.respiratory_rate}" if self.respiratory_rate is not None else ""
        return f"{self.systolic}/{self.diastolic} HR {self.heart_rate} SpO2 {self.spo2}{breathing}"


class AdverseEvent(models.Model):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    record = models.ForeignKey(DoseRecord, on_delete=models.CASCADE, related_name="adverse_events")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=60)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # An allergic reaction to the drug, of any severity: ketamine and esketamine are contraindicated in hypersensitivity
    # ([spravato-pi] 4, [ketalar-pi]), so it holds the next dose and a new course, and discharge, until a clinician
    # reviews it (dosing/data/safety.yaml review_before_dosing, discharge_waits_for).
    hypersensitivity = models.BooleanField(
        default=False,
        verbose_name="Allergic (hypersensitivity) reaction to the drug",
        help_text="Rash, hives, swelling, wheeze or anaphylaxis after the dose, whatever its severity.",
    )
    description = models.TextField(blank=True)
    action_taken = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)

    class Meta:
        ordering = ["occurred_at"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.get_severity_display()})"


class SubstanceLot(models.Model):
    """A received lot of a controlled drug from the catalogue (dosing/data/controlled_drugs.yaml)."""

    drug = models.CharField(max_length=80, default="ketamine", help_text="A drug id of the catalogue.")
    form = models.CharField(
        max_length=20, blank=True, help_text="A form id of the catalogue; blank for a lot received before it."
    )
    strength = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="In the form's unit (mg/mL, mg)."
    )
    description = models.CharField(max_length=60, blank=True, help_text="e.g. 10 mL vial")
    lot_number = models.CharField(max_length=40)
    expires_on = models.DateField()
    # What one unit (a vial, a lozenge, a spray device) holds, so every amount is kept in units as well as mg; an
    # opened vial is a part of a unit, tracked in mg. Blank for a lot received before units were recorded.
    unit_mg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Received only to be disposed of (21 CFR 1317): never offered in the room.
    for_disposal = models.BooleanField(default=False)
    # Held back from use (a recall, damaged containers, a temperature excursion): never given until released. The
    # stock stays in the log, counted, until it is given after release, returned or disposed of.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quarantine_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["expires_on", "lot_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["drug", "form", "strength", "lot_number"], name="one_lot_per_product_number"
            )
        ]

    def __str__(self) -> str:
        return f"{catalogue.describe(drug=self.drug, form=self.form, strength=self.strength)} lot {self.lot_number}"

    @property
    def unit_label(self) -> str:
        return catalogue.forms()[self.form].unit if self.form in catalogue.forms() else ""

    def in_units(self, mg: Decimal | None) -> Decimal | None:
        """An amount in units of this lot (2 places; a part of a unit is an opened vial); None without a unit."""
        if mg is None or not self.unit_mg:
            return None
        return (mg / self.unit_mg).quantize(Decimal("0.01"))


def _largest(field: models.DecimalField) -> Decimal:
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(1).scaleb(-field.decimal_places)


class LotBalance(models.Model):
    """The running balance of one lot at one location; writers lock this row, and the database refuses a
    negative balance even if the code were wrong."""

    lot = models.ForeignKey(SubstanceLot, on_delete=models.PROTECT, related_name="balances")
    location = models.CharField(max_length=60)
    balance_mg = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lot", "location"], name="one_balance_per_lot_location"),
            models.CheckConstraint(condition=models.Q(balance_mg__gte=0), name="balance_never_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} @ {self.location}: {self.balance_mg} mg"


# The most a balance (and so one entry) can hold: what LotBalance.balance_mg and LedgerEntry's amounts can store.
LARGEST_BALANCE_MG = _largest(LotBalance._meta.get_field("balance_mg"))


class LedgerEntry(models.Model):
    """The controlled-substance log. Entries are never changed; a correction is a new entry."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        ADMINISTRATION = "administration", "Administration"
        WASTE = "waste", "Waste"
        CORRECTION = "correction", "Correction"
        COUNT = "count", "Reconciliation count"
        DISPOSAL = "disposal", "Disposal"

    lot = models.ForeignKey(SubstanceLot, on_delete=models.PROTECT, related_name="entries")
    location = models.CharField(max_length=60)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    change_mg = models.DecimalField(max_digits=10, decimal_places=2, help_text="Signed change to the balance.")
    balance_after_mg = models.DecimalField(max_digits=10, decimal_places=2)
    counted_mg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    discrepancy_mg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dose_record = models.ForeignKey(DoseRecord, null=True, blank=True, on_delete=models.PROTECT)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name_plural = "ledger entries"
        # The staff home looks for each lot and location's latest count: counts are a small share of the log,
        # so a partial index keeps that read off the administrations, receipts and wastes.
        indexes = [
            models.Index(
                fields=["lot", "location", "-recorded_at", "-id"],
                condition=models.Q(kind="count"),
                name="ledger_latest_count",
            ),
            # The ledger page reads its window of entries newest first from a position in this order, so it
            # reads only the window's rows however long the log.
            models.Index(fields=["recorded_at", "id"], name="ledger_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.change_mg} mg of {self.lot}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Ledger entries are immutable; record a correction instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Ledger entries are immutable; record a correction instead.")


class RoomRiskAssessment(models.Model):
    """A same-day suicide-risk assessment in the room: the C-SSRS screener "since last visit" (six yes/no answers,
    triaged by the measures app's definition of the screener) or a clinician's own risk level. A prescriber's row
    with a decision proceeds or defers the dose; a screen without a decision is part of the checklist."""

    class Method(models.TextChoices):
        CSSRS = "cssrs", "C-SSRS screener, since last visit"
        CLINICIAN = "clinician", "Clinician assessment"

    class Level(models.TextChoices):
        NONE = "none", "No risk identified"
        LOW = "low", "Low"
        MODERATE = "moderate", "Moderate"
        HIGH = "high", "High"

    class Decision(models.TextChoices):
        NONE = "", "No decision (screen only)"
        PROCEED = "proceed", "Proceed with the dose today"
        DEFER = "defer", "Defer the dose"

    record = models.ForeignKey(DoseRecord, on_delete=models.CASCADE, related_name="risk_assessments")
    method = models.CharField(max_length=10, choices=Method.choices)
    answers = models.JSONField(default=dict, blank=True, help_text='C-SSRS item number -> 0/1, e.g. {"1": 0}.')
    risk_level = models.CharField(max_length=10, choices=Level.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision="") | ~models.Q(note=""), name="risk_decision_needs_a_note"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()}: {self.risk_level} ({self.decision or 'screen'})"


class ReadinessDigest(models.Model):
    """The evening-before readiness digest of one dosing session to one facilitator on one channel. Unique per
    session, recipient and channel, and sent by whoever claims it first (pending -> sending), so two workers or a
    sweep running beside beat never send it twice. It holds the counts it carried, never a patient."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    session = models.ForeignKey(GroupSession, on_delete=models.CASCADE, related_name="readiness_digests")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    ready_count = models.PositiveSmallIntegerField(null=True, blank=True)
    blocked_count = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["session", "recipient", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "recipient", "channel"], name="one_readiness_digest_per_session_recipient_channel"
            )
        ]

    def __str__(self) -> str:
        return f"readiness digest of session {self.session_id} to {self.recipient} by {self.channel}"


# --- Controlled-substance records an inspection asks for (21 CFR 1301, 1304, 1317) ---------------------------


class Registration(models.Model):
    """A DEA registration of the practice: its number, the schedules it covers and when it expires. Every stock
    location belongs to one; an expired registration stops receipts and doses at its locations."""

    dea_number = models.CharField("DEA registration number", max_length=9, unique=True)
    registrant = models.CharField(max_length=200, help_text="The name on the registration.")
    address = models.TextField(blank=True)
    schedules = models.JSONField(default=list, help_text='The schedules it covers, e.g. ["III", "IV", "V"].')
    expires_on = models.DateField()
    # Who is reminded to file a loss report (DEA Form 106, the state notification) for stock at its locations.
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_on", "dea_number"]

    def __str__(self) -> str:
        return f"{self.dea_number} ({self.registrant}, expires {self.expires_on:%Y-%m-%d})"


class Location(models.Model):
    """A registered place where controlled stock is kept (a safe); ledger entries and balances name it."""

    name = models.CharField(max_length=60, unique=True)
    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="locations")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Receipt(models.Model):
    """What a receipt's entry came with (21 CFR 1304.21-22; Schedule III-V arrive on an invoice or packing slip, not
    DEA Form 222): the supplier, the paper, the date received, the containers and units, and two staff."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="receipt")
    supplier_name = models.CharField(max_length=200)
    supplier_dea_number = models.CharField(max_length=9)
    invoice_number = models.CharField("invoice or packing-slip number", max_length=60)
    received_on = models.DateField()
    containers = models.PositiveIntegerField()
    units_per_container = models.PositiveIntegerField()
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(received_by=models.F("checked_by")), name="receipt_checked_by_another"
            )
        ]

    def __str__(self) -> str:
        return f"receipt of invoice {self.invoice_number} from {self.supplier_name}"

    @property
    def units(self) -> int:
        return self.containers * self.units_per_container


class Inventory(models.Model):
    """An inventory of one location (21 CFR 1304.11): the initial one, the biennial one, or an ad-hoc count. Each
    lot counted is a count entry in the log, so a count that does not match opens a discrepancy."""

    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial inventory"
        BIENNIAL = "biennial", "Biennial inventory"
        AD_HOC = "ad_hoc", "Ad-hoc count"

    class Timing(models.TextChoices):
        OPENING = "opening", "Opening of business"
        CLOSE = "close", "Close of business"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="inventories")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    taken_on = models.DateField()
    timing = models.CharField(max_length=10, choices=Timing.choices)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-taken_on", "-id"]
        verbose_name_plural = "inventories"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.location} on {self.taken_on:%Y-%m-%d}"


class InventoryLine(models.Model):
    """One lot counted: whole units and what the opened containers hold in mg (an estimate is allowed for an
    opened Schedule III-V container, 21 CFR 1304.11(e)(3))."""

    inventory = models.ForeignKey(Inventory, on_delete=models.PROTECT, related_name="lines")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="inventory_line")
    full_units = models.PositiveIntegerField()
    opened_mg = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return f"{self.full_units} units and {self.opened_mg} mg opened in {self.inventory}"


class Waste(models.Model):
    """The rest of a partial dose, destroyed against the dose it came from, signed by two licensed staff."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="waste")
    dose_record = models.ForeignKey(DoseRecord, on_delete=models.PROTECT, related_name="wastes")
    method = models.CharField(max_length=120)

    def __str__(self) -> str:
        return f"waste of {-self.entry.change_mg} mg ({self.method})"


class Disposal(models.Model):
    """Stock leaving the practice (21 CFR 1317): through a reverse distributor, or destroyed on site and recorded on
    DEA Form 41 with two staff witnesses. Each lot disposed of is a disposal entry in the log."""

    class Method(models.TextChoices):
        REVERSE_DISTRIBUTOR = "reverse_distributor", "Reverse distributor"
        ON_SITE = "on_site", "On-site destruction (DEA Form 41)"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="disposals")
    method = models.CharField(max_length=20, choices=Method.choices)
    disposed_on = models.DateField()
    distributor_name = models.CharField(max_length=200, blank=True)
    distributor_dea_number = models.CharField(max_length=9, blank=True)
    form41_details = models.TextField(
        "DEA Form 41 details", blank=True, help_text="How and where it was destroyed, as entered on the form."
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    second_witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-disposed_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} from {self.location} on {self.disposed_on:%Y-%m-%d}"


class DisposalItem(models.Model):
    disposal = models.ForeignKey(Disposal, on_delete=models.PROTECT, related_name="items")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="disposal_item")

    def __str__(self) -> str:
        return f"{-self.entry.change_mg} mg of {self.entry.lot} in {self.disposal}"


class LossReport(models.Model):
    """A theft or significant loss (21 CFR 1301.76(b)): a count discrepancy left unresolved, or stock written off by
    a correction. The DEA Form 106 is due within one business day of discovery; the responsible prescriber is
    reminded until the form and the state notification are both recorded."""

    discrepancy = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="loss_report")
    amount_mg = models.DecimalField(max_digits=10, decimal_places=2)
    discovered_at = models.DateTimeField()
    form106_due_on = models.DateField()
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    form106_submitted_on = models.DateField(null=True, blank=True)
    form106_reference = models.CharField(max_length=60, blank=True)
    state_notified_on = models.DateField(null=True, blank=True)
    state_reference = models.CharField(max_length=200, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["form106_due_on", "id"]

    def __str__(self) -> str:
        return f"loss report of {self.amount_mg} mg ({self.discrepancy.lot} at {self.discrepancy.location})"

    @property
    def complete(self) -> bool:
        return self.form106_submitted_on is not None and self.state_notified_on is not None
