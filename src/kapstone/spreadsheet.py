"""Cells of the CSV files people download and open in a spreadsheet."""

from decimal import Decimal

# A spreadsheet runs a cell that starts with one of these as a formula (a tab or carriage return may come before it).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The value as the text of a cell that runs nothing: text that would start a formula gets a leading apostrophe,
    which the spreadsheet shows as text. A number is left as it is ("-12.50" is an amount, not a formula)."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in FORMULA_STARTS and not isinstance(value, int | float | Decimal) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        number = Decimal(text)
    except ArithmeticError:
        return False
    # Decimal reads "-inf" and forgives surrounding whitespace; a spreadsheet would not read either as a number.
    return number.is_finite() and text == text.strip()
