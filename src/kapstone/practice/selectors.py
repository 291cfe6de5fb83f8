"""What the staff home shows (my patients, today's schedule, open alerts and due questionnaires) and what the
practice settings page shows (every declared setting, its cited default and the practice's own value)."""

import json
from dataclasses import dataclass

from django.utils import timezone

from kapstone.dosing.selectors import LEDGER_ROLES, open_discrepancies
from kapstone.measures.selectors import due_assessments_for, open_alerts_for
from kapstone.patients.selectors import patient_list
from kapstone.practice import registry
from kapstone.practice.models import PracticeSetting
from kapstone.program.selectors import sessions_on

MY_PATIENTS_ON_HOME = 10
ALERTS_ON_HOME = 10


def staff_home(*, user) -> dict:
    my_patients = patient_list(user=user)
    return {
        "my_patients": my_patients.object_list[:MY_PATIENTS_ON_HOME],
        "my_patient_count": my_patients.paginator.count,
        "todays_sessions": sessions_on(user=user, day=timezone.localdate()),
        "critical_alerts": open_alerts_for(user, limit=ALERTS_ON_HOME),
        "ledger_discrepancies": open_discrepancies() if user.role in LEDGER_ROLES else [],
        "due_assessments": due_assessments_for(user),
    }


def setting_anchor(key: str) -> str:
    """The id of a setting's card on the settings page, so a redirect lands beside the setting just changed."""
    return "setting-" + key.replace(".", "-")


@dataclass(frozen=True)
class SettingRow:
    spec: registry.SettingSpec
    stored: PracticeSetting | None
    default_text: str
    in_force_text: str
    # Why the stored value cannot be used (set before values were checked, or by hand), "" when it can.
    problem: str

    @property
    def anchor(self) -> str:
        return setting_anchor(self.spec.key)

    @property
    def form_text(self) -> str:
        """What the change form starts with: the value in force, or the cited default if that is unusable."""
        return self.default_text if self.problem else self.in_force_text


@dataclass(frozen=True)
class SettingArea:
    name: str
    rows: list[SettingRow]


def _row(spec: registry.SettingSpec, stored: PracticeSetting | None) -> SettingRow:
    default_text = spec.kind.to_text(spec.default)
    if stored is None:
        return SettingRow(spec, None, default_text, default_text, "")
    try:
        spec.kind.check(stored.value)
    except registry.SettingRefused as problem:
        return SettingRow(spec, stored, default_text, json.dumps(stored.value, ensure_ascii=False), str(problem))
    return SettingRow(spec, stored, default_text, spec.kind.to_text(stored.value), "")


@dataclass(frozen=True)
class UnusedSetting:
    """A stored value whose key no app declares (left by an older version, or set by hand). Nothing uses it,
    but a reader that refuses unknown keys (the screening engine) stops until it is removed."""

    stored: PracticeSetting

    @property
    def anchor(self) -> str:
        return setting_anchor(self.stored.key)

    @property
    def value_text(self) -> str:
        return json.dumps(self.stored.value, ensure_ascii=False)


@dataclass(frozen=True)
class SettingsOverview:
    areas: list[SettingArea]
    no_longer_used: list[UnusedSetting]  # by key


def practice_settings_overview() -> SettingsOverview:
    """Every declared setting by area, with the practice's own value where it has one, and the stored values
    no app declares (one query)."""
    stored = {row.key: row for row in PracticeSetting.objects.all()}
    specs = registry.all_specs()
    return SettingsOverview(
        areas=[
            SettingArea(area.name, [_row(spec, stored.get(spec.key)) for spec in area.specs])
            for area in registry.areas()
        ],
        no_longer_used=[UnusedSetting(stored[key]) for key in sorted(stored) if key not in specs],
    )
