from decimal import Decimal

import pytest

from kapstone.dosing import safety


@pytest.mark.parametrize(
    "bp,hr,spo2,pre,level",
    [
        ((120, 80), 70, 98, True, ""),
        ((141, 80), 70, 98, True, "review"),
        ((140, 90), 70, 98, True, ""),
        ((150, 95), 70, 98, False, ""),
        ((180, 95), 70, 98, False, "stop"),
        ((170, 110), 70, 98, False, "stop"),
        ((130, 80), 111, 98, False, "stop"),
        ((130, 80), 110, 98, False, ""),
        ((130, 80), 80, 89, False, "stop"),
        ((130, 80), 80, 90, False, ""),
    ],
)
def test_vital_sign_alerts_follow_the_cited_thresholds(bp, hr, spo2, pre, level):
    assessment = safety.assess_vitals(systolic=bp[0], diastolic=bp[1], heart_rate=hr, spo2=spo2, pre_dose=pre)
    assert assessment.level == level
    assert bool(assessment.messages) == bool(level)


def test_a_practice_can_set_its_own_threshold():
    assessment = safety.assess_vitals(
        systolic=170, diastolic=90, heart_rate=70, spo2=98, pre_dose=False, overrides={"stop_systolic": 165}
    )
    assert assessment.level == "stop"


def test_every_threshold_names_its_source():
    for name in safety.safety_data()["settings"]:
        assert safety.source_of(name)


@pytest.mark.parametrize(
    "route,dose,weight,within",
    [
        ("iv", "35", "70", True),  # 0.5 mg/kg
        ("iv", "60", "70", False),  # 0.86 mg/kg
        ("iv", "35", None, False),
        ("sublingual", "400", None, True),
        ("sublingual", "450", None, False),
        ("im", "50", "70", None),
    ],
)
def test_dose_orders_are_checked_against_the_route_ceiling(route, dose, weight, within):
    check = safety.check_ceiling(route=route, dose_mg=Decimal(dose), weight_kg=Decimal(weight) if weight else None)
    assert check.within is within and check.message
