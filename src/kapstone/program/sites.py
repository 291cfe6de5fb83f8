"""The practice's sites and the setting of a dosing session: where its doses are taken.

Dore et al. 2019 pooled three practices dosing in the office and supervised at home, so the outcomes report
breaks results down by both and the research export carries them. A session's site is one of the names in the
practice setting `program.sites` (kept as text on the session, so renaming a site later leaves past sessions as
they were recorded).
"""

from typing import Any

from kapstone.practice.settings_store import practice_value

SITES_KEY = "program.sites"
# Operational: a practice names its own sites; one is enough until it has more.
DEFAULT_SITES = ["Main office"]
SITE_NAME_MAX = 80
# An input limit, not a clinical number: no practice runs a hundred dosing sites.
MAX_SITES = 100


def check_sites(value: Any) -> None:
    if not isinstance(value, list) or not value or len(value) > MAX_SITES:
        raise ValueError(f'give a list of 1 to {MAX_SITES} site names, e.g. ["Main office", "North clinic"]')
    if not all(isinstance(name, str) and name.strip() and len(name) <= SITE_NAME_MAX for name in value):
        raise ValueError(f"each site is a name of 1 to {SITE_NAME_MAX} characters")
    if len({name.strip().casefold() for name in value}) != len(value):
        raise ValueError("each site is named once")


def practice_sites() -> list[str]:
    return [name.strip() for name in practice_value(SITES_KEY, DEFAULT_SITES)]
