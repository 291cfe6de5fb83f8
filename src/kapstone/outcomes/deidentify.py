"""De-identification for the research export, as pure functions of a key and a patient id.

- Pseudonymous ids: HMAC-SHA256(key, "research-id:" + patient id), first 16 hex digits (64 bits), prefixed
  "R-". The same key gives the same id in every export, so researchers can join exports; without the key the
  id cannot be traced back (HIPAA 164.514(c): a re-identification code not derived from identifiers in a way
  that can be reversed, and the key is not disclosed).
- Date shifting: each patient's dates move by one offset, the same for all of that patient's dates and in
  every export, so intervals within a patient are exact. The offset comes from a second keyed hash
  (HMAC-SHA256(key, "date-shift:" + patient id)), so it cannot be worked out from the pseudonym, and lies in
  -180..-2 or +2..+180 days. Never 0, so no exported date is the real one; never +-1 either, because a time
  stored in UTC falls on a calendar date one day away from the local one, so a one-day shift could print
  the real date as the other time zone writes it.
- Sites: a site's name is typed by an admin (program.sites) and may be a person's or a place's ("Dr Miller's
  rooms", "Elm Street"), so it leaves Kapstone only as a code: "S-" and the first 8 hex digits of
  HMAC-SHA256(key, "site:" + name). Stable under one key, so exports still group and pool by site; the practice,
  which holds the key, can tell which code is which of its sites.
- Ages: whole years, top-coded so that everyone 90 or older is reported as 90 (45 CFR 164.514(b)(2)(i)(C):
  ages over 89 aggregated into a single category of 90 or older).
- Gender identity: free text in the record, so it leaves Kapstone only as one of a fixed list of values, and
  anything else as "other", so that a rare self-description cannot single anyone out. The outcomes report
  and the research export both use `gender_category`.

Shifted dates are not Safe Harbor's "year only"; the export states this in its data dictionary. Everything
else Safe Harbor names (names, geography below state, contact details, record numbers, free text) is simply
never selected: the export is built from an allow-list of coded and numeric fields.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_HEX_DIGITS = 16
PSEUDONYM_PREFIX = "R-"
SITE_HEX_DIGITS = 8
SITE_PREFIX = "S-"
MAX_SHIFT_DAYS = 180
MIN_SHIFT_DAYS = 2
AGE_TOP_CODE = 90
GENDER_VOCABULARY = frozenset({"woman", "man", "non-binary", "trans woman", "trans man", "genderqueer", "agender"})
GENDER_OTHER = "other"
GENDER_NOT_RECORDED = "not recorded"


def _digest(key: str, purpose: str, patient_id: int) -> bytes:
    if not key:
        raise ValueError("The research id key is empty; set KAPSTONE_RESEARCH_ID_KEY.")
    return hmac.new(key.encode(), f"{purpose}:{int(patient_id)}".encode(), hashlib.sha256).digest()


def pseudonym(key: str, patient_id: int) -> str:
    return PSEUDONYM_PREFIX + _digest(key, "research-id", patient_id).hex()[:PSEUDONYM_HEX_DIGITS]


def site_code(key: str, site: str) -> str:
    """The site's code under the key; blank for no site."""
    if not site:
        return ""
    if not key:
        raise ValueError("The research id key is empty; set KAPSTONE_RESEARCH_ID_KEY.")
    return SITE_PREFIX + hmac.new(key.encode(), f"site:{site}".encode(), hashlib.sha256).hexdigest()[:SITE_HEX_DIGITS]


def date_shift_days(key: str, patient_id: int) -> int:
    """A whole number of days in -180..-2 or 2..180, fixed for the patient and the key."""
    per_side = MAX_SHIFT_DAYS - MIN_SHIFT_DAYS + 1
    choice = int.from_bytes(_digest(key, "date-shift", patient_id)[:8], "big") % (2 * per_side)
    # 0..178 -> -180..-2 and 179..357 -> 2..180.
    return choice - MAX_SHIFT_DAYS if choice < per_side else choice - per_side + MIN_SHIFT_DAYS


def top_coded_age(age: int | float | None) -> int | None:
    if age is None or age != age:  # None or NaN
        return None
    return min(int(age), AGE_TOP_CODE)


def gender_category(value) -> str:
    """The recorded gender identity as one of GENDER_VOCABULARY, "other" or "not recorded"; never the free text."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text:
        return GENDER_NOT_RECORDED
    return text if text in GENDER_VOCABULARY else GENDER_OTHER
