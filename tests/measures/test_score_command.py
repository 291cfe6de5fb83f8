"""`kapstone score`: JSON out for good input, exit status 2 and a plain message for anything else."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def run_score(*args: str) -> dict:
    out = StringIO()
    call_command("score", *args, stdout=out)
    return json.loads(out.getvalue())


def score_error(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("score", *args, stdout=StringIO())
    assert caught.value.returncode == 2
    return caught.value


def test_it_prints_the_phq9_result_as_json():
    result = run_score("phq9", "--answers", "1,1,1,1,1,1,1,1,1")
    assert result["total"] == 9
    assert result["severity"] == "mild"
    assert result["flags"] == ["suicidal_ideation"]
    assert result["subscales"] == {}
    assert (result["complete"], result["instrument_version"]) == (True, 1)


def test_it_prints_the_cssrs_risk_and_accepts_blank_skipped_questions():
    result = run_score("cssrs-screener", "--answers", "1,0,,,,0")
    assert (result["risk"], result["total"], result["critical"]) == ("low", None, False)


def test_it_prints_pcl5_clusters_and_honours_a_setting():
    answers = ",".join(["2"] * 15 + ["1"] + ["0"] * 4)  # total 31
    assert "provisional_ptsd" not in run_score("pcl5", "--answers", answers)["flags"]
    result = run_score("pcl5", "--answers", answers, "--setting", "provisional_ptsd_cutoff=31")
    assert "provisional_ptsd" in result["flags"]
    assert result["subscales"] == {"B": 10, "C": 4, "D": 14, "E": 3}


def test_it_checks_a_staff_entered_total():
    result = run_score("bdi-ii", "--total", "23")
    assert (result["total"], result["severity"]) == (23, "moderate")


def test_it_lists_the_instruments():
    out = StringIO()
    call_command("score", "--list", stdout=out)
    assert {"id": "phq9", "name": "Patient Health Questionnaire-9", "version": 1, "entry": "items", "items": 9} in (
        json.loads(out.getvalue())
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["phq9", "--answers", "1,1,1"], "has 9 items; got 3"),
        (["phq9", "--answers", "1,1,1,1,1,1,1,1,4"], "Item 9: 4 is out of range"),
        (["phq9", "--answers", "1,1,one,1,1,1,1,1,1"], "Answer 3 ('one') is not a whole number"),
        (["phq9", "--answers", "1,1,1.5,1,1,1,1,1,1"], "is not a whole number"),
        (["phq9", "--answers", ""], "No answers given"),
        (["phq9", "--answers", "  "], "No answers given"),
        (["phq9", "--answers", "1,1,,1,1,1,1,1,1"], "Unanswered item(s): 3"),
        (["phq10", "--answers", "1"], "Unknown instrument 'phq10'"),
        (["phq9"], "pass --answers"),
        (["phq9", "--total", "12"], "pass --answers"),
        (["bdi-ii", "--answers", "1,2"], "pass --total N"),
        (["bdi-ii", "--total", "64"], "between 0 and 63"),
        (["cssrs-screener", "--answers", "1,0,1,0,0,0"], "Item 3 is asked only when item 2"),
        (["pcl5", "--answers", ",".join(["0"] * 20), "--setting", "provisional_ptsd_cutoff=40"], "between 31"),
        (["pcl5", "--answers", ",".join(["0"] * 20), "--setting", "cutoff"], "NAME=NUMBER"),
        (["pcl5", "--answers", ",".join(["0"] * 20), "--setting", "provisional_ptsd_cutoff=nan"], "finite number"),
        (["pcl5", "--answers", ",".join(["0"] * 20), "--setting", "provisional_ptsd_cutoff=inf"], "finite number"),
        (["pcl5", "--answers", ",".join(["0"] * 20), "--setting", "provisional_ptsd_cutoff=-1e999"], "finite number"),
        ([], "Name an instrument"),
    ],
)
def test_it_exits_with_status_2_and_says_what_is_wrong(args, message):
    assert message in str(score_error(*args))


def console_script() -> str:
    return str(Path(sys.executable).with_name("kapstone"))


def test_the_console_script_scores_and_fails_cleanly(tmp_path):
    env = {**os.environ, "KAPSTONE_DEMO": "1", "DJANGO_SETTINGS_MODULE": "kapstone.settings"}
    good = subprocess.run(
        [console_script(), "score", "phq9", "--answers", "3,3,2,2,1,1,0,0,1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["total"] == 13

    bad = subprocess.run(
        [console_script(), "score", "phq9", "--answers", "3,3,2"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "has 9 items; got 3" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_non_finite_setting_prints_no_json_and_exits_with_status_2(tmp_path):
    env = {**os.environ, "KAPSTONE_DEMO": "1", "DJANGO_SETTINGS_MODULE": "kapstone.settings"}
    run = subprocess.run(
        [console_script(), "score", "pcl5", "--answers", ",".join(["1"] * 20), "--setting", "provisional_ptsd_cutoff=nan"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    assert "finite number" in run.stderr and "Traceback" not in run.stderr
