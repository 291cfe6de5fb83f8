import datetime
from decimal import Decimal

from kapstone.billing import services


def fees(admin, **amounts):
    """Sets fees by code, e.g. fees(admin, **{"99213": "150.00"})."""
    for code, amount in amounts.items():
        services.fee_set(actor=admin, code=code, amount=amount, reason="test schedule")


def paid(cast, amount="100.00", **extra):
    return services.payment_record(
        actor=cast.admin,
        patient=cast.alice,
        amount=Decimal(amount),
        method="card",
        on_date=extra.pop("on_date", datetime.date.today()),
        **extra,
    )
