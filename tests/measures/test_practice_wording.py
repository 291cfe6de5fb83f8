"""A practice's own wording for instruments Kapstone ships without it: shown in the portal, never exported."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from django.core import checks
from django.core.management import call_command
from django.urls import reverse

from kapstone.measures import scoring, services
from kapstone.measures.checks import instrument_wording_check
from kapstone.measures.wording import WordingError
from tests.measures.factories import due_assessment

QIDS_WORDING = {
    "instrument": "qids-sr16",
    "instrument_version": 2,
    "licence": "Synthetic test wording standing in for the practice's licensed copy.",
    "instructions": "Choose the answer that fits your past week best.",
    "items": {
        number: {"text": f"Synthetic question {number}", "answers": [f"Q{number} answer {v}" for v in range(4)]}
        for number in range(1, 17)
    },
}


def write(folder, name: str, content) -> None:
    (folder / name).write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")


def test_the_portal_form_shows_the_practices_wording_and_answers(cast, client_for, wording_dir):
    write(wording_dir, "qids-sr16.yaml", QIDS_WORDING)
    assessment = due_assessment(cast.alice, "qids-sr16")
    page = client_for(cast.alice_user).get(reverse("portal:questionnaire", args=[assessment.pk])).content.decode()
    assert "Synthetic question 12" in page and "Q12 answer 3" in page
    assert "Choose the answer that fits your past week best." in page
    assert "thoughts of death or suicide" not in page


def test_the_wording_changes_no_score(wording_dir):
    answers = {n: n % 4 for n in range(1, 17)}
    shipped = scoring.score("qids-sr16", answers)
    write(wording_dir, "qids-sr16.yaml", QIDS_WORDING)
    scoring._load_all.cache_clear()
    worded = scoring.score("qids-sr16", answers)
    assert (worded.total, worded.severity, worded.flags) == (shipped.total, shipped.severity, shipped.flags)


def test_the_fhir_export_never_carries_the_practices_wording(cast, wording_dir, tmp_path):
    write(wording_dir, "qids-sr16.yaml", QIDS_WORDING)
    services.assessment_save_answers(
        actor=cast.alice_user,
        assessment=due_assessment(cast.alice, "qids-sr16"),
        answers={n: 1 for n in range(1, 17)},
        submit=True,
    )
    out = tmp_path / "bundle.json"
    call_command("export", "fhir", "--patient", str(cast.alice.pk), "--out", str(out))
    exported = out.read_text()
    assert "qids-sr16" in json.dumps(json.loads(exported))
    assert "Synthetic question" not in exported and "answer 3" not in exported


def broken(**changes) -> dict:
    return {**QIDS_WORDING, **changes}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("qids-sr16.yaml", broken(instrument_version=7), "written for version 7"),
        ("qids-sr16.yaml", broken(instrument="phq9"), "`instrument` must be 'qids-sr16'"),
        ("qids-sr16.yaml", broken(licence=" "), "`licence`"),
        ("qids-sr16.yaml", broken(items={1: {"text": "Only one"}}), "must give every item"),
        (
            "qids-sr16.yaml",
            broken(items={**QIDS_WORDING["items"], 3: {"text": "Three", "answers": ["a", "b"]}}),
            "item 3 needs 4 answers",
        ),
        ("qids-sr16.yaml", broken(items={**QIDS_WORDING["items"], 5: {"answers": []}}), "item 5 needs `text`"),
        ("qids-sr16.yaml", broken(colour="blue"), "unknown keys colour"),
        ("qids-sr16.yaml", "items: [unclosed", "cannot be read as YAML"),
        ("not-an-instrument.yaml", QIDS_WORDING, "no instrument 'not-an-instrument'"),
    ],
)
def test_a_wording_file_that_does_not_fit_is_refused_by_name(wording_dir, name, content, message):
    write(wording_dir, name, content)
    with pytest.raises(WordingError) as refusal:
        scoring.get_instrument("qids-sr16")
    assert name in str(refusal.value) and message in str(refusal.value)


def test_answers_for_an_item_answered_with_a_number_are_refused(wording_dir):
    ebi = {
        "instrument": "ebi",
        "instrument_version": 1,
        "licence": "Synthetic test licence.",
        "items": {n: {"text": f"Statement {n}", "answers": ["low", "high"]} for n in range(1, 7)},
    }
    write(wording_dir, "ebi.yaml", ebi)
    with pytest.raises(WordingError, match="answered with a number, so it takes no `answers`"):
        scoring.get_instrument("ebi")


def test_start_up_checks_name_a_broken_wording_file(wording_dir):
    write(wording_dir, "qids-sr16.yaml", broken(instrument_version=7))
    # The wording check alone, as Django's registry holds it: other checks load process-wide state once, on first
    # use (the practice settings registry, built from the instruments), so what they report here would depend on
    # the tests run before. Every check, in a fresh process, is the next test.
    (wording_check,) = [check for check in checks.registry.registry.get_checks() if check is instrument_wording_check]
    errors = [message for message in wording_check() if message.id == "measures.E001"]
    assert len(errors) == 1 and "qids-sr16.yaml" in errors[0].msg


def test_kapstone_check_reports_a_broken_wording_file_without_a_traceback(tmp_path):
    """In a fresh process, as a practice starts the app: every check runs, the URLconf and the settings registry load
    for the first time, and the broken file is reported by name rather than raised."""
    write(tmp_path, "qids-sr16.yaml", broken(instrument_version=7))
    environment = {**os.environ, "KAPSTONE_DEMO": "1", "KAPSTONE_INSTRUMENT_WORDING_DIR": str(tmp_path)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "kapstone", "check"], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "measures.E001" in result.stderr and "qids-sr16.yaml" in result.stderr
