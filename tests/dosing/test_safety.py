from decimal import Decimal

import pytest

from kapstone.dosing import safety


@pytest.mark.parametrize(
    "bp,hr,spo2,pre,level",
    [
        ((120, 80), 70, 98, True, ""),
        ((141, 80), 70, 98, True, "review"),
        ((140, 90), 70, 98, True, ""),
        ((150, 85), 70, 98, False, ""),
        ((160, 85), 70, 98, False, "review"),  # after the dose: JNC 7 stage 2 systolic
        ((150, 90), 70, 98, False, "review"),  # stage 1 diastolic, below the stop at 100
        ((180, 85), 70, 98, False, "stop"),
        ((170, 100), 70, 98, False, "stop"),
        ((130, 80), 111, 98, False, "stop"),
        ((130, 80), 110, 98, False, "review"),  # tachycardia above 100, below the stop above 110
        ((130, 80), 100, 98, False, ""),
        ((130, 80), 49, 98, False, "review"),  # bradycardia below 50
        ((89, 60), 70, 98, False, "review"),  # hypotension below 90 systolic
        ((130, 80), 80, 89, False, "stop"),
        ((130, 80), 80, 93, False, "review"),  # below the 94% target
        ((130, 80), 80, 94, False, ""),
    ],
)
def test_vital_sign_alerts_follow_the_cited_thresholds(bp, hr, spo2, pre, level):
    assessment = safety.assess_vitals(systolic=bp[0], diastolic=bp[1], heart_rate=hr, spo2=spo2, pre_dose=pre)
    assert assessment.level == level
    assert bool(assessment.messages) == bool(level)


@pytest.mark.parametrize("rate,level", [(7, "stop"), (8, "review"), (11, "review"), (12, ""), (20, ""), (21, "review")])
def test_the_respiratory_rate_has_low_and_high_review_levels_and_a_stop_below_8(rate, level):
    assessment = safety.assess_vitals(
        systolic=120, diastolic=75, heart_rate=70, spo2=98, respiratory_rate=rate, pre_dose=False
    )
    assert assessment.level == level


def test_the_low_values_of_the_issue_raise_a_review_and_the_high_ones_a_stop():
    low = safety.assess_vitals(systolic=85, diastolic=45, heart_rate=38, spo2=97, pre_dose=False)
    assert low.level == "review" and len(low.messages) == 2
    high = safety.assess_vitals(systolic=179, diastolic=109, heart_rate=110, spo2=90, pre_dose=False)
    assert high.level == "stop"


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
        ("intranasal", "84", None, True),
        ("intranasal", "112", None, False),
    ],
)
def test_dose_orders_are_checked_against_the_route_ceiling(route, dose, weight, within):
    check = safety.check_ceiling(route=route, dose_mg=Decimal(dose), weight_kg=Decimal(weight) if weight else None)
    assert check.within is within and check.message


def test_a_route_without_a_ceiling_names_the_setting_to_configure_by_its_label_and_who_changes_it():
    check = safety.check_ceiling(route="im", dose_mg=Decimal("500"), weight_kg=Decimal("69"))
    assert check.within is None
    assert "the practice setting “IM dose ceiling” on the Practice settings page" in check.message
    assert "a prescriber changes it" in check.message
    assert "dosing." not in check.message and "ceiling_im" not in check.message


@pytest.mark.parametrize(
    "instrument,rule,level,counts_as",
    [
        ("phq9", "suicidal_ideation", "", "moderate"),
        ("cssrs-screener", "risk", "high", "high"),
        ("cssrs-screener", "risk", "moderate", "moderate"),
        ("qids-sr16", "suicidal_ideation_high", "", "moderate"),
        ("gad7", "anything", "", None),
    ],
)
def test_suicide_risk_alerts_are_read_from_the_data_file(instrument, rule, level, counts_as):
    assert safety.suicide_risk_level(instrument_id=instrument, rule=rule, level=level) == counts_as
