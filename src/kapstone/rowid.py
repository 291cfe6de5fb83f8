"""A row id read from what a person or a script sent (a query string, a posted field), before it reaches a
query.

A database's key is a 64-bit signed integer on both SQLite and PostgreSQL, and a value beyond it makes the driver
raise rather than find nothing; `str.isdigit` also passes digits `int` cannot read ("²"). So a value is an id only
when it is plain ASCII decimal digits naming a key a table can hold; anything else names no row."""

LARGEST_ROW_ID = 2**63 - 1


def row_id(value: object) -> int | None:
    """The id `value` names, or None when it names none."""
    if not isinstance(value, str) or not (0 < len(value) <= len(str(LARGEST_ROW_ID))):
        return None
    if not (value.isascii() and value.isdecimal()):
        return None
    number = int(value)
    return number if 0 < number <= LARGEST_ROW_ID else None
