"""Demo billing (synthetic): the practice's identity on its paperwork, fees for the services its visits bill, the
prescriber's and therapist's NPI and licence, and the first portal patient's last dosing visit charged and paid,
so that visit's superbill prints with nothing missing (the patient's diagnosis comes from the patients demo).
Amounts, numbers and the address are invented; the NPIs carry a valid check digit and belong to no one.
"""

from decimal import Decimal

from django.utils import timezone

from kapstone.billing import services
from kapstone.billing.models import npi_is_valid
from kapstone.billing.selectors import billing_setting
from kapstone.practice.settings_store import practice_value_set
from kapstone.program.models import GroupSession

SEEDS_AFTER = ("kapstone.program",)
IDENTITY = {
    "practice_name": "Kapstone Demo Practice",
    "billing_address": "1 Synthetic Way, Springfield, NY 10001",
    "practice_npi": "1234567893",
    "tax_id": "12-3456789",
}
# username: (first nine digits of a made-up NPI, licence number, licence state)
CLINICIANS = {"dr.okafor": ("198765432", "MD-000123", "NY"), "dr.lindqvist": ("176543210", "PSY-004567", "NY")}
FEES = {"90834": "180.00", "99213": "150.00", "90833": "95.00", "90853": "85.00"}


def _npi(first_nine: str) -> str:
    """The made-up number completed with the check digit that makes it a well-formed NPI."""
    return next(first_nine + digit for digit in "0123456789" if npi_is_valid(first_nine + digit))


def seed(*, practice, rng, progress) -> None:
    admin = practice.staff["admin.price"]
    for name, value in IDENTITY.items():
        practice_value_set(actor=admin, key=f"billing.{name}", value=value, reason="The demo practice's paperwork.")
    for username, (first_nine, licence_number, licence_state) in CLINICIANS.items():
        services.staff_profile_set(
            actor=admin,
            user=practice.staff[username],
            npi=_npi(first_nine),
            licence_number=licence_number,
            licence_state=licence_state,
        )
    billed = {code for codes in billing_setting("visit_services").values() for code in codes}
    for code in sorted(billed):
        services.fee_set(actor=admin, code=code, amount=FEES.get(code, "100.00"), reason="The demo's fee schedule.")

    if not practice.portal_patients:
        return
    patient = practice.portal_patients[0]
    visit = (
        GroupSession.objects.filter(
            group__enrolments__patient=patient, kind=GroupSession.Kind.DOSING, starts_at__lt=timezone.now()
        )
        .order_by("-starts_at")
        .first()
    )
    if visit is None:
        return
    charges = services.visit_charges_add(actor=admin, patient=patient, session=visit)
    services.payment_record(
        actor=admin,
        patient=patient,
        amount=sum((c.amount for c in charges), Decimal("0")),
        method="card",
        reference="DEMO-0001",
        on_date=timezone.localdate(visit.starts_at),
        session=visit,
    )
    progress(f"billing: fees for {len(billed)} codes, one visit charged and paid")
