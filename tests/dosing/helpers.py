"""Builders for the dosing room and the controlled-substance log in tests (synthetic data only): a check-in and a
vitals reading with everything but what a test is about, a registered location and a receipt with its supplier,
invoice and second signature, and a second signature confirmed by its signer's password (as the services take it)
or posted with it (as the forms are sent)."""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.accounts.services import SecondSignature, second_signature_confirm
from kapstone.dosing import catalogue, services
from kapstone.dosing.models import DoseRecord, LedgerEntry, Location, LossReport, Registration
from kapstone.program.models import Group, GroupSession
from tests.conftest import CAST_PASSWORD

PRACTICE_DEA_NUMBER = "BK1234563"
SUPPLIER_DEA_NUMBER = "RC2345672"
DISTRIBUTOR_DEA_NUMBER = "RD7654329"


def signed(signer, *, password: str = CAST_PASSWORD) -> SecondSignature:
    """`signer`'s second signature, confirmed by their password (the test users' own) as the forms confirm it. Any
    role may sign here: which roles a dosing write accepts is the service's to refuse."""
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.9")
    request.user = AnonymousUser()
    return second_signature_confirm(request=request, signer=signer, password=password, roles=tuple(Role))


def signing(field: str, signer, *, password: str = CAST_PASSWORD) -> dict[str, object]:
    """A form's second signature as posted: the signer chosen in `field` (with the form's prefix, "waste-witness")
    and their own password typed beside it."""
    return {field: signer.pk, f"{field}_password": password}


def _prescriber():
    return get_user_model().objects.filter(role=Role.PRESCRIBER, is_active=True).order_by("pk").first()


def registered_location(name: str = "Main safe", *, expires_on: datetime.date | None = None) -> Location:
    """The location under the practice's registration (created once; valid until 2030 unless `expires_on`)."""
    registration, _ = Registration.objects.get_or_create(
        dea_number=PRACTICE_DEA_NUMBER,
        defaults={
            "registrant": "Synthetic Practice",
            "schedules": ["III", "IV", "V"],
            "expires_on": expires_on or datetime.date(2030, 1, 1),
            "responsible": _prescriber(),
        },
    )
    location, _ = Location.objects.get_or_create(name=name, defaults={"registration": registration})
    return location


def receive_stock(
    *,
    actor,
    drug: str,
    form: str,
    strength: Decimal,
    lot_number: str,
    expires_on: datetime.date,
    location: str,
    amount_mg: Decimal,
    witness=None,
    **extra,
) -> LedgerEntry:
    """A receipt of `amount_mg`: lozenges or devices of `strength` mg, or one vial holding the whole amount, checked by
    `witness` (a member of staff, or their signature) or the first other signer."""
    registered_location(location)
    checker = (
        witness
        or get_user_model()
        .objects.filter(role__in=services.SIGNING_ROLES, is_active=True)
        .exclude(pk=actor.pk)
        .order_by("pk")
        .first()
    )
    per_ml = catalogue.forms()[form].strength_unit == "mg/mL"
    return services.lot_receive(
        actor=actor,
        checked_by=checker if isinstance(checker, SecondSignature) else signed(checker),
        drug=drug,
        form=form,
        strength=strength,
        lot_number=lot_number,
        expires_on=expires_on,
        location=location,
        containers=1,
        units_per_container=1 if per_ml else int(amount_mg / strength),
        unit_volume_ml=amount_mg / strength if per_ml else None,
        supplier_name="Synthetic Wholesale",
        supplier_dea_number=SUPPLIER_DEA_NUMBER,
        invoice_number=f"INV-{lot_number}",
        **extra,
    )


def a_loss_report(cast) -> LossReport:
    """A count 100 mg short written off by a correction: a loss report at once (made once)."""
    existing = LossReport.objects.first()
    if existing is not None:
        return existing
    entry = receive_stock(
        actor=cast.nurse,
        drug="ketamine",
        form="lozenge",
        strength=Decimal("100"),
        lot_number="LOSS-1",
        expires_on=datetime.date(2030, 1, 1),
        location="Main safe",
        amount_mg=Decimal("500"),
        witness=cast.bob,
    )
    where = {"actor": cast.nurse, "lot": entry.lot, "location": "Main safe", "witness": signed(cast.bob)}
    count = services.ledger_post(kind="count", change_mg=Decimal("0"), counted_mg=Decimal("400"), **where)
    services.ledger_post(kind="correction", change_mg=Decimal("-100"), corrects=count, reason="not found", **where)
    return LossReport.objects.get(discrepancy=count)


NO_RISK_SCREEN = {1: 0, 2: 0, 6: 0}  # the C-SSRS screener since last visit, every question asked answered no


def checked_in(cast, record, **changes):
    """The nurse's check-in of `record` with every item in order; `changes` replaces the items a test is about."""
    items = {
        "fasting_confirmed": True,
        "escort_arranged": True,
        "pregnancy_test": "n/a",
        "intention": "",
        "weight_kg": Decimal("70"),
        "medication_changes": "no",
    }
    return services.check_in(actor=cast.nurse, record=record, **{**items, **changes})


def checked_in_with_vitals(cast, session, patient, *, systolic: int = 122, diastolic: int = 78) -> DoseRecord:
    """The patient's record in the session, opened and checked in by the nurse (a negative pregnancy test today, a
    same-day suicide screen with every answer no) with a pre-dose reading: within every limit unless a test gives
    another blood pressure."""
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=patient)
    checked_in(cast, record, pregnancy_test="negative", pregnancy_test_on=timezone.localdate(), intention="to rest")
    services.risk_assessment_record(actor=cast.nurse, record=record, answers=NO_RISK_SCREEN)
    services.vitals_record(
        actor=cast.nurse, record=record, phase="pre", systolic=systolic, diastolic=diastolic, heart_rate=70, spo2=98
    )
    return record


def vitals_at(cast, record, phase, taken_at):
    """A reading within every limit, taken at `taken_at`."""
    services.vitals_record(
        actor=cast.nurse,
        record=record,
        phase=phase,
        systolic=128,
        diastolic=80,
        heart_rate=72,
        spo2=98,
        taken_at=taken_at,
    )


def observed_and_ready_to_leave(cast, ready_record, stock):
    """Alice's dose given 130 minutes ago, watched through the peak, rated and with discharge vitals in range: ready
    to leave, but for what a test adds."""
    given = timezone.now() - datetime.timedelta(minutes=130)
    record = services.dose_administer(
        actor=cast.nurse, record=ready_record, balance=stock, witness=signed(cast.bob), administered_at=given
    )
    vitals_at(cast, record, "peak", given + datetime.timedelta(minutes=45))
    services.ratings_record(actor=cast.nurse, record=record, sedation_moaas=5, dissociation_cadss=2)
    vitals_at(cast, record, "discharge", timezone.now())
    return record


def session_of_another_group(at: datetime.datetime, *, name: str) -> GroupSession:
    """A dosing session at `at` of a group of its own (another course), for doses and check-ins the patient had
    elsewhere."""
    group = Group.objects.create(
        name=name,
        template_id="journey-clinical-style",
        template_version=1,
        min_size=3,
        max_size=4,
        start_date=timezone.localdate(at),
    )
    return GroupSession.objects.create(
        group=group, kind=GroupSession.Kind.DOSING, number=1, starts_at=at, ends_at=at + datetime.timedelta(hours=3)
    )
