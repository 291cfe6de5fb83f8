"""Maudsley Staging Method (Fekadu 2009): each component's table edges, the bands, and when it is not scored."""

import pytest

from kapstone.screening.engine import screen


def stage(intake, trial, *, months=18, severity="moderate", failed=2, augmentation=False, ect=False):
    intake["current_episode"] = {"duration_months": months, "severity": severity}
    intake["prior_treatments"]["antidepressant_trials"] = [trial(f"drug{i}") for i in range(failed)]
    intake["prior_treatments"]["augmentations"] = [{"drug": "aripiprazole"}] if augmentation else []
    intake["prior_treatments"]["ect"] = [{"sessions": 12, "response": "no_response"}] if ect else []
    result = screen(intake)
    return result.maudsley_score, result.maudsley_band


# Baseline: 18 months (2) + moderate (3) + 2 failed trials (1) = 6.
@pytest.mark.parametrize(
    ("months", "points"), [(0, 1), (12, 1), (12.5, 2), (13, 2), (24, 2), (24.5, 3), (25, 3), (240, 3)]
)
def test_episode_duration_points_follow_the_table(intake, trial, months, points):
    assert stage(intake, trial, months=months)[0] == points + 3 + 1


@pytest.mark.parametrize(
    ("severity", "points"),
    [
        ("subsyndromal", 1),
        ("mild", 2),
        ("moderate", 3),
        ("severe_without_psychosis", 4),
        ("severe_with_psychosis", 5),
    ],
)
def test_severity_points_follow_the_table(intake, trial, severity, points):
    assert stage(intake, trial, severity=severity)[0] == 2 + points + 1


@pytest.mark.parametrize(
    ("failed", "points"),
    [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (10, 4), (11, 5), (15, 5)],
)
def test_failed_antidepressant_trial_points_follow_the_table(intake, trial, failed, points):
    assert stage(intake, trial, failed=failed)[0] == 2 + 3 + points


def test_augmentation_and_ect_each_add_one_point(intake, trial):
    assert stage(intake, trial, augmentation=True)[0] == 7
    assert stage(intake, trial, ect=True)[0] == 7
    assert stage(intake, trial, augmentation=True, ect=True)[0] == 8


@pytest.mark.parametrize(
    ("options", "score", "band"),
    [
        ({"months": 6, "severity": "subsyndromal", "failed": 1}, 3, "mild"),
        ({"months": 6, "severity": "moderate", "failed": 2, "augmentation": True, "ect": False}, 6, "mild"),
        ({"months": 6, "severity": "moderate", "failed": 3, "augmentation": True}, 7, "moderate"),
        ({"months": 18, "severity": "severe_without_psychosis", "failed": 5}, 9, "moderate"),
        ({"months": 18, "severity": "severe_with_psychosis", "failed": 3}, 9, "moderate"),
        ({"months": 30, "severity": "severe_without_psychosis", "failed": 4, "ect": True}, 10, "moderate"),
        ({"months": 30, "severity": "severe_with_psychosis", "failed": 3, "ect": True}, 11, "severe"),
        (
            {"months": 30, "severity": "severe_with_psychosis", "failed": 11, "augmentation": True, "ect": True},
            15,
            "severe",
        ),
    ],
)
def test_scores_fall_into_the_named_bands(intake, trial, options, score, band):
    assert stage(intake, trial, **options) == (score, band)


def test_a_short_trial_is_not_a_failed_treatment_for_the_stage(intake, trial):
    intake["current_episode"] = {"duration_months": 18, "severity": "moderate"}
    intake["prior_treatments"]["antidepressant_trials"] = [trial("a"), trial("b"), trial("c", weeks=2)]
    assert screen(intake).maudsley_score == 6


def test_there_is_no_stage_when_depression_is_not_an_indication(intake):
    intake["indications"] = ["anxiety"]
    result = screen(intake)
    assert (result.maudsley_score, result.maudsley_band, result.maudsley_note) == (None, None, None)


def test_there_is_no_stage_without_the_current_episode_and_the_note_says_why(intake):
    del intake["current_episode"]
    result = screen(intake)
    assert result.maudsley_score is None
    assert result.maudsley_note == "not scored: current_episode.duration_months is not recorded"


def test_there_is_no_stage_without_a_failed_trial_because_the_method_starts_at_one(intake):
    intake["prior_treatments"]["antidepressant_trials"] = []
    result = screen(intake)
    assert result.maudsley_score is None
    assert "failed_antidepressant_trials is 0" in result.maudsley_note
