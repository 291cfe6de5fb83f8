"""`kapstone screen`: JSON out, `-` for stdin, and status 2 with a clear message for bad input."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
KAPSTONE = Path(sys.executable).with_name("kapstone")


def run(*args, stdin: str | None = None, monkeypatch=None) -> dict:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("screen", *args, stdout=out)
    return json.loads(out.getvalue())


def bad_input(*args, stdin: str | None = None, monkeypatch=None) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args, stdin=stdin, monkeypatch=monkeypatch)
    assert caught.value.returncode == 2
    return str(caught.value)


def test_it_prints_the_result_as_json():
    result = run(str(EXAMPLES / "intake-pregnancy-excluded.json"))
    assert result["decision"] == "not_eligible"
    assert result["reasons"][0]["rule"] == "pregnancy"
    assert set(result["reasons"][0]) == {"rule", "outcome", "message", "source"}
    assert result["treatment_resistant"] is True
    assert result["maudsley_score"] == 10
    assert result["maudsley_band"] == "moderate"
    assert result["benzodiazepine_diazepam_equivalent_mg"] == 0
    assert result["rule_set_version"] == "1.5.0"


def test_it_reads_standard_input_for_a_dash(monkeypatch, intake):
    assert run("-", stdin=json.dumps(intake), monkeypatch=monkeypatch)["decision"] == "eligible"


def test_set_overrides_a_practice_setting(intake, tmp_path):
    intake["vitals"] = {"systolic": 172, "diastolic": 80}
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(intake))
    assert run(str(path))["decision"] == "needs_review"
    assert run(str(path), "--set", "bp_exclude_systolic_mmhg=170")["decision"] == "not_eligible"
    outcome = run(str(path), "--set", "not_treatment_resistant_outcome=needs_review")
    assert outcome["settings"]["not_treatment_resistant_outcome"] == "needs_review"


def test_a_missing_file_exits_with_status_2(tmp_path):
    assert "no such file" in bad_input(str(tmp_path / "nope.json"))


@pytest.mark.parametrize("text", ["{bad", "", "NaN", '{"age": Infinity}'])
def test_bad_json_exits_with_status_2(monkeypatch, text):
    assert "standard input is not valid JSON" in bad_input("-", stdin=text, monkeypatch=monkeypatch)


def test_deeply_nested_json_exits_with_status_2(monkeypatch):
    message = bad_input("-", stdin="[" * 100_000 + "]" * 100_000, monkeypatch=monkeypatch)
    assert "nested too deeply" in message


def test_an_intake_that_breaks_the_schema_exits_with_status_2_naming_the_field(monkeypatch, intake):
    intake["medical"]["pregnant"] = "no"
    message = bad_input("-", stdin=json.dumps(intake), monkeypatch=monkeypatch)
    assert "medical.pregnant must be true or false" in message


@pytest.mark.parametrize("spelled", ["\\u0000", "\\ud800", "\\udfff"])
def test_text_no_record_can_hold_exits_with_status_2_naming_where(monkeypatch, intake, spelled):
    """JSON can spell a NUL and half a surrogate pair; either, in a value or a field's name, is refused by name
    rather than reaching the result (which could not be written out) or a database."""
    intake["medications"] = [{"name": "lithium", "dose_mg_per_day": 900}]
    text = json.dumps(intake).replace('"lithium"', f'"lithium{spelled}"')
    refused = "holds a \\u0000 or an unpaired \\ud800-\\udfff escape, which is not text a record can keep"
    assert f"medications[0].name {refused}" in bad_input("-", stdin=text, monkeypatch=monkeypatch)
    text = json.dumps(intake).replace('"medical": {', f'"medical": {{"x{spelled}": true, ')
    assert f"a field name in medical {refused}" in bad_input("-", stdin=text, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    ("setting", "message"), [("nope=1", "unknown setting 'nope'"), ("no-equals-sign", "--set needs NAME=VALUE")]
)
def test_a_bad_override_exits_with_status_2(setting, message):
    assert message in bad_input(str(EXAMPLES / "intake-depression-eligible.json"), "--set", setting)


@pytest.mark.skipif(not KAPSTONE.exists(), reason="the kapstone console script is not installed")
def test_the_installed_console_script_screens_a_file_and_exits_2_on_bad_input(tmp_path):
    env = {**os.environ, "KAPSTONE_DEMO": "1"}
    done = subprocess.run(
        [str(KAPSTONE), "screen", str(EXAMPLES / "intake-bipolar-needs-review.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] == "needs_review"

    bad = tmp_path / "bad.json"
    bad.write_text('{"medical": {"pregnant": "yes"}}')
    failed = subprocess.run(
        [str(KAPSTONE), "screen", str(bad)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert failed.returncode == 2
    assert "medical.pregnant must be true or false" in failed.stderr
    assert "Traceback" not in failed.stderr
