import datetime
import re
from collections.abc import Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from kapstone import formrender
from kapstone.accounts.fields import StaffChoiceField
from kapstone.accounts.models import User
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.baseforms import Form, ModelForm
from kapstone.compiled_once import compiled_once
from kapstone.dosing import catalogue, safety
from kapstone.dosing.models import (
    LARGEST_BALANCE_MG,
    AdverseEvent,
    Disposal,
    DoseRecord,
    Inventory,
    LedgerEntry,
    Location,
    LotBalance,
    Registration,
    RoomRiskAssessment,
    Route,
    SubstanceLot,
    VitalsReading,
)
from kapstone.dosing.selectors import (
    LedgerBalances,
    dose_labels_since,
    doses_to_waste_since,
    in_stock_or,
    ledger_locations,
)
from kapstone.dosing.services import (
    DIASTOLIC_NOT_BELOW_SYSTOLIC,
    NO_RATING,
    PREDOSE_BP_REVIEWED_LABEL,
    SIGNING_ROLES,
)
from kapstone.measures.scoring import get_instrument
from kapstone.practice.templatetags.kapstone_tags import written_quantity
from kapstone.untrusted import row_id


def _staff():
    return get_user_model().objects.filter(role__in=CLINICAL_ROLES, is_active=True)


class Signature(NamedTuple):
    """A second signature on a form: the field choosing the signer, the field where they type their own password
    (the view confirms it: accounts.services.second_signature_confirm), and what the signer is called ("witness")."""

    signer_field: str
    password_field: str
    role: str


def _signer_password(role: str, *, required: bool = True) -> forms.CharField:
    """Where the signer (`role`, "witness") types their own password at this screen, as an automated dispensing
    cabinet asks its witness: never drawn back into the form (PasswordInput draws no value), never remembered by the
    browser."""
    return forms.CharField(
        label=f"{role[0].upper()}{role[1:]}'s password",
        strip=False,
        max_length=4096,  # as the sign-in form's: argon2 hashes whatever it is given
        required=required,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=f"The {role} types their own password here to sign.",
        error_messages={"required": f"The {role} types their own password here to sign."},
    )


WEIGHT_UNITS = [("kg", "kg"), ("lb", "lb")]
# What a room scale can read for an adult, in kg: a weight outside it is a slip of the keyboard or of the unit.
WEIGHT_KG = (Decimal("25"), Decimal("350"))


class CheckInForm(Form):
    fasting_confirmed = forms.BooleanField(required=False, label="Fasting confirmed")
    escort_arranged = forms.BooleanField(required=False, label="Escort or ride home arranged")
    # "Not done yet" first, so the form opens on it: opening on the first of the model's choices, "Not applicable",
    # a checklist sent without a look at this field said no test was needed.
    pregnancy_test = forms.ChoiceField(
        choices=[
            (DoseRecord.PregnancyTest.NOT_DONE.value, DoseRecord.PregnancyTest.NOT_DONE.label),
            *((value, label) for value, label in DoseRecord.PregnancyTest.choices if value),
        ],
        required=False,
        help_text="Not applicable only where the patient record documents no childbearing potential.",
    )
    pregnancy_test_on = forms.DateField(
        label="Day the test was taken", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    weight = forms.DecimalField(
        label="Today's weight", min_value=Decimal("0.1"), max_digits=5, decimal_places=1, required=False
    )
    weight_unit = forms.ChoiceField(label="Weighed in", choices=WEIGHT_UNITS, initial="kg", required=False)
    weight_confirmed = forms.BooleanField(
        required=False, label="Unit checked: this weight is right (only when the room asks)"
    )
    medication_changes = forms.ChoiceField(
        label="Medication changes since screening?", choices=DoseRecord.MedicationChanges.choices, required=False
    )
    new_medications = forms.CharField(
        label="Medicines started or changed since screening",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
        help_text="One a line.",
    )
    intention = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    def clean(self):
        cleaned = super().clean()
        weight, unit = cleaned.pop("weight", None), cleaned.pop("weight_unit", "") or "kg"
        cleaned["weight_kg"] = None
        if weight is not None:
            weight_kg = safety.kg_from_pounds(weight) if unit == "lb" else weight
            if not WEIGHT_KG[0] <= weight_kg <= WEIGHT_KG[1]:
                low, high = WEIGHT_KG
                self.add_error(
                    "weight",
                    f"Give a weight from {low} to {high} kg ({safety.pounds_from_kg(low)} to "
                    f"{safety.pounds_from_kg(high)} lb), and choose the unit it was weighed in.",
                )
            cleaned["weight_kg"] = weight_kg
        if cleaned.get("pregnancy_test") == DoseRecord.PregnancyTest.NEGATIVE and not cleaned.get("pregnancy_test_on"):
            self.add_error("pregnancy_test_on", "Give the day the negative test was taken.")
        changed = cleaned.get("medication_changes") == DoseRecord.MedicationChanges.CHANGED
        if changed and not (cleaned.get("new_medications") or "").strip():
            self.add_error("new_medications", "Name the medicines that changed, one a line.")
        return cleaned


class DoseOrderForm(Form):
    # No route is chosen for the prescriber: the first one (intramuscular) chosen by default made an order for the
    # group's usual lozenge one missed choice away from an injection.
    route = forms.ChoiceField(choices=[("", "Choose the route"), *Route.choices])
    dose_mg = forms.DecimalField(
        label="Dose (mg)", min_value=Decimal("0.1"), max_value=Decimal("2000"), decimal_places=1
    )
    # Offered on the card only while the latest pre-dose reading is at review level; the order is refused without it.
    predose_bp_reviewed = forms.BooleanField(required=False, label=PREDOSE_BP_REVIEWED_LABEL)


@compiled_once()
def _witnesses() -> QuerySet[User]:
    return _staff()


class BalanceChoiceField(forms.ModelChoiceField):
    """A lot at a location, offered with its balance as a clinician writes it ("... lot L-1 @ Main safe: 12,000 mg"),
    not as stored ("12000.00 mg")."""

    def label_from_instance(self, obj: LotBalance) -> str:
        return f"{obj.lot} @ {obj.location}: {written_quantity(obj.balance_mg)} mg"


def room_witnesses() -> list[User]:
    """The staff who may witness a dose (AdministerForm's witnesses), in the order the form offers them: compiled
    once, as the room reads them on every load (issue 19)."""
    return _witnesses()


def _givable_balances(today: datetime.date) -> QuerySet[LotBalance]:
    """Only lots the room may give from: in date, of a catalogue form, not received for disposal, not quarantined.
    The room offers only those whose form fits the order's route (fitting_balances); whether it does is checked when
    the dose is given (services.dose_administer), which says why a lot that does not fit is refused."""
    return (
        LotBalance.objects.filter(balance_mg__gt=0, lot__expires_on__gte=today)
        .exclude(lot__form="")
        .exclude(lot__for_disposal=True)
        .filter(lot__quarantined_at__isnull=True)
        .select_related("lot")
    )


@compiled_once(today=datetime.date)
def _givable_balances_offered(*, today: datetime.date) -> QuerySet[LotBalance]:
    # What the form offers, compiled once (the room draws it on every load); a posted choice is checked against
    # _givable_balances itself.
    return _givable_balances(today)


def fitting_balances(balances: Iterable[LotBalance], *, route: str) -> list[LotBalance]:
    """The `balances` whose lot's form fits `route` (catalogue.forms_fitting, the rule the dose is refused by);
    all of them when no route is ordered yet."""
    if not route:
        return list(balances)
    fitting = catalogue.forms_fitting(route)
    return [balance for balance in balances if balance.lot.form in fitting]


class AdministerForm(Form):
    balance = BalanceChoiceField(
        queryset=LotBalance.objects.none(),
        label="Lot and location",
        error_messages={"required": "Choose the lot and location the dose was taken from."},
    )
    witness = StaffChoiceField(
        queryset=_staff(),
        label="Witness",
        error_messages={"required": "Choose the second staff member who saw the dose given."},
    )
    witness_password = _signer_password("witness")
    signatures = (Signature("witness", "witness_password", "witness"),)
    # Who may witness a dose (services.ledger_post: whoever of the room's clinicians stands beside the patient).
    signer_roles = SIGNING_ROLES | CLINICAL_ROLES

    def __init__(
        self,
        *args,
        witnesses: list | None = None,
        offered: dict[str, list] | None = None,
        route: str = "",
        **kwargs,
    ) -> None:
        """`witnesses` are room_witnesses() when the page has read them, offered without reading them again;
        `offered`, what offered() worked out for the page, offered without reading the lots again; `route`, the
        order's, whose fitting lots alone are offered (none ordered: every lot the room may give from)."""
        super().__init__(*args, **kwargs)
        balance, witness = self.fields["balance"], self.fields["witness"]
        assert isinstance(balance, forms.ModelChoiceField) and isinstance(
            witness, forms.ModelChoiceField
        )  # as declared
        balance.queryset = _givable_balances(timezone.localdate())
        witness.queryset = _staff()
        self.offer(offered if offered is not None else self.offered(witnesses=witnesses, route=route))

    def offer(self, offered: dict[str, list]) -> None:
        """Offers `offered` (offered()), by field: a form posted back is offered what the card offered."""
        for name, choices in offered.items():
            self.fields[name].widget.choices = choices

    @classmethod
    def givable(cls) -> list[LotBalance]:
        """The lots the room may give from today, each form of the page offering those fitting its order's route."""
        return list(_givable_balances_offered(today=timezone.localdate()))

    @classmethod
    def offered(
        cls, *, witnesses: list | None, route: str = "", givable: list[LotBalance] | None = None
    ) -> dict[str, list]:
        """The choices an empty form offers, by field, worked out from the class's fields so that the room can tell
        what it would draw without making it: the lots it may give from today (`givable` when the page has read
        them) that fit the order's `route`, and `witnesses` when the page has read them (else the field reads its
        own). When no lot fits the route, the field says so where it would offer a lot."""
        balance, witness = cls.base_fields["balance"], cls.base_fields["witness"]
        assert isinstance(balance, forms.ModelChoiceField) and isinstance(
            witness, forms.ModelChoiceField
        )  # as declared
        rows = fitting_balances(cls.givable() if givable is None else givable, route=route)
        choices = formrender.choices_of(balance, rows)
        if route and not rows:
            choices = [("", catalogue.no_lot_fits(route_label=Route(route).label))]
        offered = {"balance": choices}
        if witnesses is not None:
            offered["witness"] = formrender.choices_of(witness, witnesses)
        return offered


def _reading(label: str, low: int, high: int, unit: str, **kwargs) -> forms.IntegerField:
    """A vital sign typed in from a monitor, bounded as the model stores it. Outside the bounds the room says what to
    check, where Django's own words asked to "ensure this value is less than or equal to 250"."""
    check = "check the monitor and the number typed."
    unit = unit.replace("%", "%%")  # Django formats the message with the limit's value: a bare % would break it
    return forms.IntegerField(
        min_value=low,
        max_value=high,
        label=label,
        error_messages={
            "min_value": f"Below {low}{unit} is not a reading the room records: {check}",
            "max_value": f"Above {high}{unit} is not a reading the room records: {check}",
        },
        **kwargs,
    )


class VitalsForm(Form):
    phase = forms.ChoiceField(choices=VitalsReading.Phase.choices)
    systolic = _reading("Systolic (mmHg)", 50, 300, " mmHg")
    diastolic = _reading("Diastolic (mmHg)", 20, 200, " mmHg")
    heart_rate = _reading("Heart rate (beats/min)", 20, 250, "/min")
    spo2 = _reading("SpO₂ %", 50, 100, "%")
    respiratory_rate = _reading(
        "Respiratory rate (/min)",
        2,
        60,
        "/min",
        required=False,
        help_text="Required on every reading for an IM or IV dose.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("systolic") and cleaned.get("diastolic") and cleaned["diastolic"] >= cleaned["systolic"]:
            raise forms.ValidationError(DIASTOLIC_NOT_BELOW_SYSTOLIC)
        return cleaned


def _scale_field(scale: str, label: str) -> forms.IntegerField:
    """A rating on one of the cited scales in dosing/data/safety.yaml, bounded by the scale's own range."""
    bounds = safety.safety_data()["scales"][scale]
    return forms.IntegerField(
        min_value=bounds["min"], max_value=bounds["max"], required=False, label=label.format(**bounds)
    )


class RatingsForm(Form):
    sedation_moaas = _scale_field("moaas", "Sedation (MOAA/S {min}-{max})")
    dissociation_cadss = _scale_field("cadss_total", "Dissociation (CADSS total {min}-{max})")

    def clean(self):
        cleaned = super().clean()
        if not self.errors and cleaned.get("sedation_moaas") is None and cleaned.get("dissociation_cadss") is None:
            raise forms.ValidationError(NO_RATING)
        return cleaned


# A note's length limit: the append-only trail keeps every word, so a pasted megabyte would stay there for good.
NOTE_MAX_LENGTH = 2000


class AdverseEventForm(ModelForm):
    description = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))
    action_taken = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = AdverseEvent
        fields = ["kind", "severity", "hypersensitivity", "description", "action_taken"]


class DischargeForm(Form):
    vitals_ok = forms.BooleanField(required=False, label="Vitals back within limits")
    alert_oriented = forms.BooleanField(required=False, label="Alert and oriented")
    escort_present = forms.BooleanField(required=False, label="Escort present")
    dissociation_attested = forms.BooleanField(
        required=False, label="I attest that dissociation has resolved (when the CADSS is above the practice's level)"
    )
    attestation_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000, label="Attestation note"
    )


_YES_NO = [("", "Not asked"), ("0", "No"), ("1", "Yes")]


def _screener_question(number: int) -> forms.TypedChoiceField:
    # The label (the question in the practice's wording) is set when a form is made, not when this module is
    # imported: importing reads no instrument file, so a broken wording file is reported by the start-up check
    # instead of breaking the URLconf, and a changed wording is shown without a restart.
    return forms.TypedChoiceField(choices=_YES_NO, coerce=int, empty_value=None, required=False, label=f"{number}.")


class RiskAssessmentForm(Form):
    """The C-SSRS screener asked about the time since the last visit, or a clinician's risk level; a prescriber adds
    the decision to proceed or defer."""

    q1 = _screener_question(1)
    q2 = _screener_question(2)
    q3 = _screener_question(3)
    q4 = _screener_question(4)
    q5 = _screener_question(5)
    q6 = _screener_question(6)
    clinician_level = forms.ChoiceField(
        choices=[("", "—"), *RoomRiskAssessment.Level.choices],
        required=False,
        label="Or, a clinician assessment: risk level",
    )
    decision = forms.ChoiceField(choices=RoomRiskAssessment.Decision.choices, required=False, label="Decision")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000, label="Assessment summary"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in self.question_labels():
            self.fields[name].label = label

    @classmethod
    def question_labels(cls) -> tuple[tuple[str, str], ...]:
        """The screener's questions in the practice's wording, by field, as a form is made with them: all that an
        empty form reads when it is made, so that the room can tell what it would draw without making it."""
        return tuple(
            (f"q{item.number}", f"{item.number}. {item.text}")
            for item in get_instrument("cssrs-screener").items
            if f"q{item.number}" in cls.base_fields
        )

    def clean(self):
        cleaned = super().clean()
        answers = {number: cleaned.get(f"q{number}") for number in range(1, 7)}
        cleaned["answers"] = {number: value for number, value in answers.items() if value is not None}
        if cleaned["answers"] and cleaned.get("clinician_level"):
            raise forms.ValidationError("Record either the screener answers or a clinician's risk level, not both.")
        if not cleaned["answers"] and not cleaned.get("clinician_level"):
            raise forms.ValidationError("Answer the screener questions or give a clinician's risk level.")
        if cleaned.get("decision") and not (cleaned.get("note") or "").strip():
            self.add_error("note", "Write a note with the decision.")
        return {
            "answers": cleaned["answers"],
            "clinician_level": cleaned.get("clinician_level", ""),
            "decision": cleaned.get("decision", ""),
            "note": cleaned.get("note", ""),
        }


class MedicationReviewForm(Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Review of the new medicines"
    )


class NoteForm(Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000, label="Session note")


ROOM_FORMS = {
    "checkin": CheckInForm,
    "order": DoseOrderForm,
    "administer": AdministerForm,
    "vitals": VitalsForm,
    "ratings": RatingsForm,
    "adverse": AdverseEventForm,
    "discharge": DischargeForm,
    "risk": RiskAssessmentForm,
    "medreview": MedicationReviewForm,
    "note": NoteForm,
}


def _ledger_amount(*, minimum: Decimal, label: str) -> forms.DecimalField:
    """An amount the controlled-substance log can store; ledger_post also refuses a balance that would outgrow it."""
    return forms.DecimalField(min_value=minimum, max_value=LARGEST_BALANCE_MG, decimal_places=2, label=label)


def _signers():
    """Staff who may sign a controlled-substance entry (services.SIGNING_ROLES): never a patient or researcher."""
    return get_user_model().objects.filter(role__in=SIGNING_ROLES, is_active=True).order_by("last_name", "username")


def _date_field(label: str, **extra) -> forms.DateField:
    return forms.DateField(label=label, widget=forms.DateInput(attrs={"type": "date"}), **extra)


def _posted_id(form: forms.Form, name: str) -> int | None:
    return row_id(form.data.get(form.add_prefix(name))) if form.is_bound else None


def _signer_query(shared: dict) -> QuerySet[User]:
    """_signers(), built once for the forms sharing `shared`: building it for each of seven fields took as long as
    reading it (setdefault would build it each time, to throw it away)."""
    if "signer_query" not in shared:
        shared["signer_query"] = _signers()
    return shared["signer_query"]


def _balance_query() -> QuerySet[LotBalance]:
    return LotBalance.objects.select_related("lot").order_by("lot__lot_number")


class _Signed(Form):
    """A ledger form whose second signature is chosen from the signing staff, read when the form is built. Its lot
    and location (`balance`) accepts any balance, but offers only those in stock, the lot the page is filtered to
    (`offered_lot_id`) and the one posted.

    The forms a page shows together share their reads through `read_once` (a dict the page gives each): the ledger
    page offers the same signers on seven fields and the same balances on three forms, and reading them for each
    (and working out each read's SQL to tell them apart, as read_choices_once does) took a tenth of its time. An
    empty form offers the balances and the signers from the page's own reads (`balances`, read for the lot it offers,
    and `signing_staff`, read with the log's signers) where the page gives them. What a form offers is worked out
    from its class's fields (offered), so that the page can tell what an empty form would draw without making it
    (page_offers)."""

    signer_fields: tuple[str, ...] = ("witness",)
    # Each signer's password beside their choice (the view confirms it before the entry is written).
    signatures: tuple[Signature, ...] = (Signature("witness", "witness_password", "witness"),)
    signer_roles = SIGNING_ROLES

    def __init__(
        self,
        *args,
        offered_lot_id: int | None = None,
        read_once: dict | None = None,
        balances: LedgerBalances | None = None,
        signing_staff: Sequence[Any] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        offered = self.offered(
            read_once,
            offered_lot_id=offered_lot_id,
            balances=balances,
            signing_staff=signing_staff,
            posted_balance=_posted_id(self, "balance"),
        )
        self._set_querysets(read_once)
        # After the querysets, as setting a queryset sets its field's choices to read it.
        for name, choices in offered.items():
            self.fields[name].widget.choices = choices

    def _set_querysets(self, read_once: dict | None) -> None:
        """The rows each model choice accepts when the form is posted."""
        for name in self.signer_fields:
            if name in self.fields:
                signer = self.fields[name]
                assert isinstance(signer, forms.ModelChoiceField)  # each form declares its signers so
                signer.queryset = _signers() if read_once is None else _signer_query(read_once)
        if "balance" in self.fields:
            field = self.fields["balance"]
            assert isinstance(field, forms.ModelChoiceField)  # each form declares its balance so
            field.queryset = _balance_query()
        if "location" in self.fields and isinstance(self.fields["location"], forms.ModelChoiceField):
            self.fields["location"].queryset = Location.objects.all()

    @classmethod
    def offered(
        cls,
        read_once: dict | None,
        *,
        offered_lot_id: int | None,
        balances: LedgerBalances | None,
        signing_staff: Sequence[Any] | None,
        posted_balance: int | None = None,
    ) -> dict[str, list]:
        """The choices a form of this class offers, by field, as its __init__ gives them: its balances always; its
        signers and locations where the page shares its reads (`read_once`), else left to the fields' querysets."""
        offered: dict[str, list] = {}
        if read_once is not None:
            for name in cls.signer_fields:
                signer = cls.base_fields.get(name)
                if signer is None:
                    continue
                assert isinstance(signer, forms.ModelChoiceField)  # each form declares its signers so
                # The choices are made once: each signer's label is their name and role, the same on every field.
                # The page may give those who sign (`signing_staff`, as _signers reads them).
                if "signers" not in read_once:
                    iterator = signer.iterator(signer)
                    staff = _signer_query(read_once) if signing_staff is None else signing_staff
                    read_once["signers"] = [iterator.choice(user) for user in staff]
                offered[name] = [("", signer.empty_label), *read_once["signers"]]
        balance = cls.base_fields.get("balance")
        if balance is not None:
            assert isinstance(balance, forms.ModelChoiceField)  # each form declares its balance so
            shared = {} if read_once is None else read_once
            key = ("balances", offered_lot_id, posted_balance)
            if key not in shared:
                if balances is not None and posted_balance is None:
                    offered_balances: Iterable[LotBalance] = balances.offered(offered_lot_id)
                else:
                    offered_rows = in_stock_or(offered_lot_id)
                    if posted_balance is not None:
                        offered_rows |= Q(pk=posted_balance)
                    offered_balances = _balance_query().filter(offered_rows)
                shared[key] = [(row.pk, balance.label_from_instance(row)) for row in offered_balances]
            offered["balance"] = [("", balance.empty_label), *shared[key]]
        location = cls.base_fields.get("location")
        if read_once is not None and isinstance(location, forms.ModelChoiceField):
            # One read of the locations for the three forms that offer them; left to read_choices_once, telling the
            # three fields' reads apart took working out the SQL of each.
            if "locations" not in read_once:
                read_once["locations"] = ledger_locations()
            offered["location"] = formrender.choices_of(location, read_once["locations"])
        return offered

    @classmethod
    def page_offers(
        cls,
        read_once: dict,
        *,
        offered_lot_id: int | None,
        balances: LedgerBalances,
        signing_staff: Sequence[Any] | None,
    ) -> Hashable:
        """What an empty form of this class made for the page (with `read_once` and the rest) offers, as its
        drawing shows it: with its class and prefix, everything its drawing reads."""
        offered = cls.offered(read_once, offered_lot_id=offered_lot_id, balances=balances, signing_staff=signing_staff)
        return formrender.shown_offers(offered)


class ReceiptForm(_Signed):
    signer_fields = ("checked_by",)
    signatures = (Signature("checked_by", "checked_by_password", "checker"),)
    drug = forms.ChoiceField(choices=catalogue.drug_choices, initial="ketamine")
    form = forms.ChoiceField(choices=catalogue.form_choices)
    strength = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=8, decimal_places=2, help_text="mg/mL for an injection, mg otherwise."
    )
    unit_volume_ml = forms.DecimalField(
        label="mL per vial",
        min_value=Decimal("0.01"),
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Injections only: a unit is one vial.",
    )
    description = forms.CharField(max_length=60, required=False, help_text="e.g. 10 mL vial")
    lot_number = forms.CharField(max_length=40)
    expires_on = _date_field("Expires on")
    location = forms.ModelChoiceField(queryset=Location.objects.none(), to_field_name="name")
    containers = forms.IntegerField(min_value=1, max_value=10000, help_text="Boxes or packs received.")
    units_per_container = forms.IntegerField(
        min_value=1, max_value=10000, help_text="Vials, lozenges or spray devices in each."
    )
    supplier_name = forms.CharField(max_length=200)
    supplier_dea_number = forms.CharField(label="Supplier's DEA number", max_length=9)
    invoice_number = forms.CharField(label="Invoice or packing-slip number", max_length=60)
    received_on = _date_field("Date received")
    checked_by = StaffChoiceField(queryset=get_user_model().objects.none(), label="Checked by")
    checked_by_password = _signer_password("checker")
    for_disposal = forms.BooleanField(
        required=False, label="Received for disposal", help_text="An expired lot is accepted only for disposal."
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("drug") and cleaned.get("form"):
            refusal = catalogue.product_refusal(drug=cleaned["drug"], form=cleaned["form"])
            if refusal:
                self.add_error("form", refusal)
        expires_on = cleaned.get("expires_on")
        if expires_on and expires_on < timezone.localdate() and not cleaned.get("for_disposal"):
            self.add_error("expires_on", "This lot has expired: it is received only for disposal.")
        if cleaned.get("location") is not None:
            cleaned["location"] = cleaned["location"].name
        return cleaned


# The doses a waste may be recorded against: those given in the last two days.
WASTE_WINDOW = datetime.timedelta(days=2)


class _DoseChoiceField(forms.ModelChoiceField):
    """A dose, labelled by its number, when it was given, the dose and its lot."""

    def label_from_instance(self, obj: DoseRecord) -> str:
        assert obj.administered_at is not None  # only doses given are offered
        return _dose_label(obj.pk, obj.administered_at, obj.dose_mg, obj.lot.lot_number if obj.lot else None)


class WasteForm(_Signed):
    """The rest of a partial dose, against the dose it came from."""

    dose_record = _DoseChoiceField(queryset=DoseRecord.objects.none(), label="Dose")
    amount_mg = _ledger_amount(minimum=Decimal("0.01"), label="Amount wasted (mg)")
    method = forms.CharField(max_length=120, help_text="e.g. drug-disposal container, witnessed")
    witness = StaffChoiceField(queryset=get_user_model().objects.none(), label="Second licensed signature")
    witness_password = _signer_password("witness")

    def _set_querysets(self, read_once: dict | None) -> None:
        super()._set_querysets(read_once)
        field = self.fields["dose_record"]
        assert isinstance(field, forms.ModelChoiceField)  # declared so above
        field.queryset = doses_to_waste_since(timezone.now() - WASTE_WINDOW)

    @classmethod
    def offered(cls, read_once: dict | None, **kwargs: Any) -> dict[str, list]:
        offered = super().offered(read_once, **kwargs)
        if read_once is not None:
            # On the ledger page, the choices from the four columns their labels show: the whole records read
            # with their lots only to be labelled.
            if "doses" not in read_once:
                since = timezone.now() - WASTE_WINDOW
                read_once["doses"] = []
                for pk, administered_at, dose_mg, lot_number in dose_labels_since(since=since):
                    assert administered_at is not None  # the doses given since `since`
                    read_once["doses"].append((pk, _dose_label(pk, administered_at, dose_mg, lot_number)))
            field = cls.base_fields["dose_record"]
            assert isinstance(field, forms.ModelChoiceField)  # declared so above
            empty = [("", field.empty_label)] if field.empty_label is not None else []
            offered["dose_record"] = [*empty, *read_once["doses"]]
        return offered


def _dose_label(pk: int, administered_at: datetime.datetime, dose_mg: Decimal | None, lot_number: str | None) -> str:
    given = f"{timezone.localtime(administered_at):%Y-%m-%d %H:%M}"
    return f"#{pk} {given} {written_quantity(dose_mg)} mg lot {'?' if lot_number is None else lot_number}"


class CountForm(_Signed):
    balance = BalanceChoiceField(queryset=LotBalance.objects.none(), label="Lot and location")
    counted_mg = _ledger_amount(minimum=Decimal("0"), label="Counted (mg)")
    witness = StaffChoiceField(queryset=get_user_model().objects.none())
    witness_password = _signer_password("witness")


def _count_labels(balance: LotBalance) -> tuple[str, str]:
    """The labels of an inventory's counts of a lot at a location: its units, and the mg in opened containers."""
    unit = balance.lot.unit_label or "unit"
    place = f"{balance.lot} at {balance.location}"
    return f"{place}: {unit}s", f"{place}: mg in opened containers"


class InventoryForm(_Signed):
    """An inventory of one location; the counts of its lots are read from `lot-<balance id>-units` and
    `lot-<balance id>-opened_mg` fields the page adds for each lot held there."""

    location = forms.ModelChoiceField(queryset=Location.objects.none())
    kind = forms.ChoiceField(choices=Inventory.Kind.choices)
    taken_on = _date_field("Date taken")
    timing = forms.ChoiceField(choices=Inventory.Timing.choices, label="Taken at")
    witness = StaffChoiceField(queryset=get_user_model().objects.none())
    witness_password = _signer_password("witness")

    def __init__(self, *args, **kwargs):
        balances: LedgerBalances | None = kwargs.get("balances")
        super().__init__(*args, **kwargs)
        # The lots held (every one must be counted), and any other lot whose count was posted.
        posted = [
            int(name.split("-")[-2]) for name in self.data if re.fullmatch(rf"{self.add_prefix('lot')}-\d+-units", name)
        ]
        if balances is None or posted:
            counted = (
                LotBalance.objects.filter(Q(balance_mg__gt=0) | Q(pk__in=posted))
                .select_related("lot")
                .order_by("location", "lot__lot_number")
            )
        else:
            counted = balances.held()
        for balance in counted:
            units_label, opened_label = _count_labels(balance)
            self.fields[f"lot-{balance.pk}-units"] = forms.IntegerField(
                min_value=0, max_value=1_000_000, required=False, label=units_label
            )
            self.fields[f"lot-{balance.pk}-opened_mg"] = _ledger_amount(minimum=Decimal("0"), label=opened_label)
            self.fields[f"lot-{balance.pk}-opened_mg"].required = False

    @classmethod
    def page_offers(cls, read_once: dict, **kwargs: Any) -> Hashable:
        """What the form offers, and the lots it counts (the balances held) with their labels."""
        balances: LedgerBalances = kwargs["balances"]
        counted = tuple((balance.pk, _count_labels(balance)) for balance in balances.held())
        return (super().page_offers(read_once, **kwargs), counted)

    def clean(self):
        cleaned = super().clean()
        counts = {}
        for name, value in list(cleaned.items()):
            if name.startswith("lot-") and name.endswith("-units") and value is not None:
                balance_id = int(name.split("-")[1])
                counts[balance_id] = (value, cleaned.get(f"lot-{balance_id}-opened_mg") or Decimal("0"))
            elif name.startswith("lot-") and name.endswith("-opened_mg") and value:
                balance_id = int(name.split("-")[1])
                counts.setdefault(balance_id, (cleaned.get(f"lot-{balance_id}-units") or 0, value))
        kept = ("location", "kind", "taken_on", "timing", "witness", "witness_password")
        return {key: cleaned.get(key) for key in kept} | {"counts": counts}


class DisposalForm(_Signed):
    signer_fields = ("witness", "second_witness")
    signatures = (
        Signature("witness", "witness_password", "witness"),
        Signature("second_witness", "second_witness_password", "second witness"),
    )
    location = forms.ModelChoiceField(queryset=Location.objects.none())
    method = forms.ChoiceField(choices=Disposal.Method.choices)
    disposed_on = _date_field("Date")
    balance = BalanceChoiceField(queryset=LotBalance.objects.none(), label="Lot")
    amount_mg = _ledger_amount(minimum=Decimal("0.01"), label="Amount (mg)")
    distributor_name = forms.CharField(max_length=200, required=False, label="Reverse distributor")
    distributor_dea_number = forms.CharField(max_length=9, required=False, label="Reverse distributor's DEA number")
    form41_details = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False, label="DEA Form 41 details"
    )
    witness = StaffChoiceField(queryset=get_user_model().objects.none())
    witness_password = _signer_password("witness")
    second_witness = StaffChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="None (one witness)",
        help_text="On-site destruction: two witnesses.",
    )
    second_witness_password = _signer_password("second witness", required=False)

    def clean(self):
        cleaned = super().clean()
        balance, amount = cleaned.pop("balance", None), cleaned.pop("amount_mg", None)
        cleaned["items"] = [(balance, amount)] if balance is not None else []
        return cleaned


class CorrectionForm(_Signed):
    balance = BalanceChoiceField(queryset=LotBalance.objects.none(), label="Lot and location")
    # The entry's number as the ledger lists it, not a list of every entry: a practice's ledger grows by tens of
    # thousands of entries, and a select of them all made the ledger page take seconds to draw.
    corrects = forms.ModelChoiceField(
        queryset=LedgerEntry.objects.none(),
        label="Entry corrected (its number)",
        help_text="The number (#) the ledger shows for an entry of the same lot and location.",
        widget=forms.NumberInput(attrs={"min": 1}),
        error_messages={"invalid_choice": "There is no ledger entry with that number."},
    )
    change_mg = _ledger_amount(minimum=-LARGEST_BALANCE_MG, label="Change (mg, negative to remove)")
    witness = StaffChoiceField(queryset=get_user_model().objects.none(), label="Second signature")
    witness_password = _signer_password("witness")
    reason = forms.CharField(max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["corrects"].queryset = LedgerEntry.objects.select_related("lot")

    def clean(self):
        cleaned = super().clean()
        balance, corrects = cleaned.get("balance"), cleaned.get("corrects")
        if balance and corrects and (corrects.lot_id, corrects.location) != (balance.lot_id, balance.location):
            self.add_error("corrects", f"Choose an entry of {balance.lot} at {balance.location}.")
        return cleaned

    def clean_change_mg(self):
        if self.cleaned_data["change_mg"] == 0:
            raise forms.ValidationError("A correction changes the balance; 0 changes nothing.")
        return self.cleaned_data["change_mg"]


class QuarantineForm(_Signed):
    """Quarantines the lot of the chosen balance (every location's stock of it) or releases it, with a reason."""

    signer_fields = ()
    signatures = ()
    balance = BalanceChoiceField(queryset=LotBalance.objects.none(), label="Lot (at any location)")
    decision = forms.ChoiceField(
        choices=[("quarantine", "Quarantine: never give it until released"), ("release", "Release it for use")]
    )
    reason = forms.CharField(max_length=300, help_text="e.g. manufacturer's recall notice of 3 March")


LEDGER_FORMS: dict[str, type[_Signed]] = {
    "receipt": ReceiptForm,
    "inventory": InventoryForm,
    "count": CountForm,
    "waste": WasteForm,
    "disposal": DisposalForm,
    "correction": CorrectionForm,
    "quarantine": QuarantineForm,
}


class LedgerFilterForm(Form):
    """Filters the entries. The lot accepts any lot, but offers those in stock and the one asked for (see
    in_stock_or): a used-up lot is reached from its entries. The locations and lots offered come from the page's
    read of the balances (`balances`: selectors.ledger_balances for the lot the data asks for)."""

    location = forms.ChoiceField(required=False)
    lot = forms.ModelChoiceField(queryset=SubstanceLot.objects.all(), required=False, empty_label="All lots")
    since = _date_field("From", required=False)
    until = _date_field("To", required=False)

    def __init__(self, *args, balances: LedgerBalances, **kwargs):
        super().__init__(*args, **kwargs)
        location, field = self.fields["location"], self.fields["lot"]
        assert isinstance(location, forms.ChoiceField) and isinstance(field, forms.ModelChoiceField)  # declared so
        location.choices = [("", "All locations"), *((name, name) for name in balances.locations)]
        field.widget.choices = [
            ("", field.empty_label),
            *((lot.pk, field.label_from_instance(lot)) for lot in balances.lots()),
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "The end of the period must not be before its start.")
        return cleaned


class RegistrationForm(Form):
    dea_number = forms.CharField(label="DEA registration number", max_length=9)
    registrant = forms.CharField(max_length=200, label="Name on the registration")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=1000)
    schedules = forms.MultipleChoiceField(
        choices=[(s, f"Schedule {s}") for s in ("II", "IIN", "III", "IIIN", "IV", "V")],
        widget=forms.CheckboxSelectMultiple,
        initial=["III", "IV", "V"],
    )
    expires_on = _date_field("Expires on")
    responsible = StaffChoiceField(
        queryset=get_user_model().objects.none(), label="Responsible prescriber", help_text="Reminded of loss reports."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible"].queryset = get_user_model().objects.filter(role=Role.PRESCRIBER, is_active=True)


class LocationForm(Form):
    name = forms.CharField(max_length=60, help_text="e.g. Main safe")
    registration = forms.ModelChoiceField(queryset=Registration.objects.all())


class LossReportFileForm(Form):
    form106_submitted_on = _date_field("DEA Form 106 submitted on", required=False)
    form106_reference = forms.CharField(max_length=60, required=False, label="Form 106 reference")
    state_notified_on = _date_field("State notified on", required=False)
    state_reference = forms.CharField(max_length=200, required=False, label="State notification reference")
