"""Interprets dosing/data/ledger.yaml: what the controlled-substance record must hold (registration numbers,
waste signatures, loss-report deadlines)."""

import datetime
import re
from functools import cache
from pathlib import Path

import yaml

LEDGER_FILE = Path(__file__).parent / "data" / "ledger.yaml"


@cache
def ledger_data() -> dict:
    return yaml.safe_load(LEDGER_FILE.read_text(encoding="utf-8"))


def dea_number_problem(number: str) -> str:
    """Why `number` is not a DEA registration number; "" when it is one (format and check digit)."""
    if not re.fullmatch(ledger_data()["registration"]["number_pattern"], number):
        return "must be two letters and seven digits, e.g. AB1234563"
    digits = [int(d) for d in number[2:]]
    check = (digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])) % 10
    if check != digits[6]:
        return f"has the wrong check digit (the last digit should be {check}); check the number"
    return ""


def warn_days_before_expiry() -> int:
    return ledger_data()["registration"]["warn_days_before_expiry"]


def next_inventory_due_on(last_taken_on: datetime.date) -> datetime.date:
    """The last day the next biennial inventory may be taken: the same date the given number of years after the
    previous initial or biennial one (28 February for a 29 February)."""
    years = ledger_data()["inventory"]["biennial_every_years"]
    try:
        return last_taken_on.replace(year=last_taken_on.year + years)
    except ValueError:  # 29 February in a year that has none
        return last_taken_on.replace(year=last_taken_on.year + years, day=28)


def warn_days_before_inventory_due() -> int:
    return ledger_data()["inventory"]["warn_days_before_due"]


def licensed_roles() -> frozenset[str]:
    return frozenset(ledger_data()["waste"]["licensed_roles"])


def form106_due_on(discovered_on: datetime.date) -> datetime.date:
    """The day DEA Form 106 is due: the given number of business days (Monday to Friday) after discovery. A federal
    holiday counts as a business day here: the deadline may then fall a day early, never a day late."""
    day, left = discovered_on, ledger_data()["loss"]["form106_business_days"]
    while left:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day
