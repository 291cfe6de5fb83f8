"""The project's own bibliography: loaded, well formed, and docs/sources.md generated from it."""

from pathlib import Path

import pytest
import yaml
from django.core import checks

from kapstone import bibliography

REPOSITORY = Path(__file__).resolve().parents[2]


def test_every_source_has_a_kind_and_a_citation():
    sources = bibliography.sources()
    assert "spravato-pi" in sources
    assert all(source.kind in bibliography.KINDS and source.citation for source in sources.values())


def test_docs_sources_md_is_generated_from_sources_yaml():
    assert (REPOSITORY / "docs" / "sources.md").read_text(encoding="utf-8") == bibliography.markdown(), (
        "run: kapstone sources --markdown > docs/sources.md"
    )


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("[spravato-pi] section 4", ["spravato-pi"]),
        ("spravato-rems", ["spravato-rems"]),
        ("[kroenke-2001] cut-points; [loinc]", ["kroenke-2001", "loinc"]),
        ("Kroenke 2001", []),
    ],
)
def test_a_citation_names_bracketed_ids_or_is_a_bare_id(text, ids):
    assert bibliography.cited_ids(text) == ids


def test_a_data_file_citing_an_unknown_or_no_id_is_reported(tmp_path):
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump(
            {
                "settings": {"a": {"value": 1, "source": "[spravato-rems] observe 2 h"}},
                "rules": [{"id": "x", "source": "[no-such-paper] p. 3"}, {"id": "y", "source": "Someone 2020"}],
            }
        )
    )
    problems = bibliography.citation_problems(tmp_path)
    assert any("rules[0].source cites unknown source id 'no-such-paper'" in p for p in problems)
    assert any("rules[1].source cites no source id" in p for p in problems)
    assert not any("settings.a.source" in p for p in problems)


def test_describe_expands_ids_into_references():
    assert bibliography.describe("[spravato-rems] observe 2 h").startswith("SPRAVATO REMS")


REMS = bibliography.sources()["spravato-rems"].citation
OPERATIONAL = bibliography.sources()["kapstone-operational"].citation


@pytest.mark.parametrize(
    ("value", "described"),
    [
        # What a data file notes from a source in its own words is said once, by the reference written out.
        ("[spravato-rems] no driving until the next day after restful sleep", REMS),
        (
            "[spravato-rems] observe at least 2 hours after each dose; no driving until the next day after restful sleep",
            REMS,
        ),
        ("[spravato-pi] and [spravato-rems]: no driving until the next day after a restful sleep.", None),
        (
            "[spravato-rems] no driving until the next day after restful sleep; [kapstone-operational] the rest is ours",
            f"{REMS} {OPERATIONAL} the rest is ours",
        ),
        # What the reference does not say stays, after it.
        ("[spravato-rems] observe 2 h", f"{REMS} observe 2 h"),
        ("[spravato-rems] section 4; observe at least 2 hours after each dose", f"{REMS} section 4"),
        ("[no-such-paper] p. 3", "[no-such-paper] p. 3"),
    ],
)
def test_describe_says_what_a_reference_already_says_once(value, described):
    text = bibliography.describe(value)
    if described is not None:
        assert text == described
    assert text.lower().count("no driving until the next day") == 1 or "no driving" not in value
    assert text.lower().count("observe at least 2 hours") <= 1


def test_every_data_file_in_the_repository_cites_known_ids():
    assert bibliography.citation_problems() == []


def test_the_system_check_reports_an_unknown_id(tmp_path, monkeypatch):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"rules": [{"id": "x", "source": "[no-such-paper] p. 3"}]}))
    monkeypatch.setattr(bibliography, "PACKAGE_DIR", tmp_path)
    errors = bibliography.citation_check()
    assert [error.id for error in errors] == ["kapstone.E010"]
    assert "no-such-paper" in errors[0].msg


def test_the_citation_check_is_registered_for_start_up():
    assert bibliography.citation_check in checks.registry.registry.get_checks()


def test_a_consent_form_hashed_into_signatures_is_the_only_exception(tmp_path):
    consent = tmp_path / "screening" / "consent"
    consent.mkdir(parents=True)
    (consent / "kap_group_consent_v1.yaml").write_text(yaml.safe_dump({"sections": [{"source": "Someone 2020"}]}))
    assert bibliography.citation_problems(tmp_path) == []


# A reader of the repository cannot follow a file outside it: cite an id of sources.yaml instead. (/home/ is
# Kapstone's own URL, so a home directory is not searched for.)
OUTSIDE_REFERENCES = ("clinical.md", "shared/reference", "/work/", "/tmp/", "/Users/")  # noqa: S108


def test_no_source_docs_or_script_points_outside_the_repository():
    # A signed consent form keeps its text (bibliography.CITATION_EXCEPTIONS).
    exceptions = set(bibliography.CITATION_EXCEPTIONS)
    offenders = []
    for folder in ("src", "docs", "scripts"):
        for path in (REPOSITORY / folder).rglob("*"):
            if not path.is_file() or path.suffix in {".pyc", ".joblib", ".sqlite3"} or "egg-info" in str(path):
                continue
            if path.relative_to(bibliography.PACKAGE_DIR if folder == "src" else REPOSITORY).as_posix() in exceptions:
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            offenders += [f"{path.relative_to(REPOSITORY)}: {word}" for word in OUTSIDE_REFERENCES if word in text]
    assert offenders == []
