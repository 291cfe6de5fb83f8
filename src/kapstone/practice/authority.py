"""Who changes which practice setting: a prescriber (or the medical director) the clinical ones, the practice
admin the operational ones; an admin proposes a clinical change for a prescriber to approve."""

from kapstone.accounts.roles import Role
from kapstone.practice.registry import SettingSpec, all_specs


def may_change_clinical(user) -> bool:
    """A prescriber answers for the practice's clinical settings. The medical director is one of them (a flag on a
    prescriber's login, accounts.User), so a flag set on another role by mistake grants nothing here."""
    return user is not None and user.is_active and user.role == Role.PRESCRIBER


def may_change(user, spec: SettingSpec) -> bool:
    """Whether `user` changes `spec` directly. A command run without --by (user None) changes operational
    settings only: a clinical change always names the prescriber who answers for it."""
    if spec.clinical:
        return may_change_clinical(user)
    return user is None or (user.is_active and user.role == Role.ADMIN)


def may_propose(user, spec: SettingSpec) -> bool:
    return spec.clinical and user is not None and user.is_active and user.role == Role.ADMIN


def who_changes(spec: SettingSpec) -> str:
    if spec.clinical:
        return "a prescriber changes it; the practice admin may propose a change"
    return "the practice admin changes it"


def setting_named_for_staff(key: str) -> str:
    """A practice setting as a message to staff names it: by its label on the Settings page and who changes it,
    never by its key ("dosing.max_doses_per_7_days" means nothing in the dosing room)."""
    spec = all_specs().get(key)
    if spec is None:
        # Only a key no app declares any more; the message still points to the page rather than failing.
        return "a practice setting on the Practice settings page"
    return f"the practice setting “{spec.label}” on the Practice settings page ({who_changes(spec)})"
