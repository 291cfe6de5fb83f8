"""The project's own bibliography: loaded, well formed, and docs/sources.md generated from it."""

from pathlib import Path

import pytest
import yaml

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
