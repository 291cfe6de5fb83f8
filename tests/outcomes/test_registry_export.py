"""The research export's dictionary covers every column it writes, and the registry profile carries what a multi-site
ketamine registry pools (dose, route, frequency, site and setting, adverse events, outcomes, long-term safety),
de-identified as the full export."""

import datetime
import io
import json

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command

from kapstone.measures.models import Assessment
from kapstone.outcomes.deidentify import site_code
from kapstone.outcomes.services import PROFILES, TABLES, research_export_write
from kapstone.program.models import GroupSession
from tests.outcomes.factories import build_practice

WRITTEN = "Grey fog in my left hand, Quorvexa"


@pytest.fixture
def practice(db):
    built = build_practice()
    GroupSession.objects.filter(group=built.group).update(site="North clinic", dosing_setting="supervised_home")
    when = datetime.datetime(2025, 5, 1, 12, tzinfo=datetime.UTC)
    Assessment.objects.create(
        patient=built.patients[0],
        group=built.group,
        instrument_id="kset-followup",
        occasion="follow_up_1m",
        due_at=when,
        status=Assessment.Status.COMPLETED,
        answers={str(n): int(n in (2, 8)) for n in range(1, 9)},
        result={"flags": ["urinary", "other"]},
        total=2,
        completed_at=when,
        free_text=WRITTEN,
    )
    return built


def test_every_column_the_export_writes_is_in_the_dictionary(practice, tmp_path):
    result = research_export_write(actor_label="test", out_dir=tmp_path)
    for name in result.rows:
        undocumented = set(pd.read_csv(tmp_path / f"{name}.csv").columns) - set(TABLES[name])
        assert not undocumented, f"{name}: {sorted(undocumented)} missing from the data dictionary"
        assert all(kind and description for kind, description in TABLES[name].values())


def test_every_profile_names_only_documented_columns():
    for profile in PROFILES.values():
        for table, columns in profile.items():
            assert set(columns) <= set(TABLES[table])


def test_the_registry_profile_carries_site_setting_and_coded_long_term_safety(practice, tmp_path):
    out = tmp_path / "registry"
    call_command(
        "export", "research", "--out", str(out), "--profile", "registry", stdout=io.StringIO(), stderr=io.StringIO()
    )
    written = {path.stem for path in out.glob("*.csv")} - {"data_dictionary"}
    assert written == set(PROFILES["registry"])
    doses = pd.read_csv(out / "doses.csv")
    north = site_code(settings.RESEARCH_ID_KEY, "North clinic")
    assert set(doses["site"]) == {north} and set(doses["dosing_setting"]) == {"supervised_home"}
    safety = pd.read_csv(out / "long_term_safety.csv")
    assert safety[["urinary", "other", "cognitive"]].iloc[0].tolist() == [True, True, False]
    assert safety["domains_reported"].iloc[0] == 2
    dictionary = pd.read_csv(out / "data_dictionary.csv")
    for name in written:
        assert set(pd.read_csv(out / f"{name}.csv").columns) <= set(dictionary[dictionary["table"] == name]["column"])
    assert json.loads((out / "manifest.json").read_text())["profile"] == "registry"
    for path in out.iterdir():
        assert WRITTEN.encode() not in path.read_bytes() and b"Quorvexa" not in path.read_bytes()


def test_the_full_export_has_the_new_tables_and_an_unknown_profile_is_refused(practice, tmp_path):
    result = research_export_write(actor_label="test", out_dir=tmp_path / "full")
    assert {"long_term_safety", "urine_toxicology"} <= set(result.rows)
    with pytest.raises(ValueError, match="Unknown export profile"):
        research_export_write(actor_label="test", out_dir=tmp_path / "x", profile="everything")


def test_the_documented_dictionary_is_the_exports_own():
    from pathlib import Path

    from kapstone.outcomes.services import dictionary_document

    document = Path(__file__).resolve().parents[2] / "docs" / "research-export-dictionary.json"
    assert json.loads(document.read_text()) == json.loads(json.dumps(dictionary_document())), (
        "regenerate docs/research-export-dictionary.json from kapstone.outcomes.services.dictionary_document()"
    )


@pytest.mark.parametrize("profile", ["full", "registry"])
def test_an_allergic_reaction_to_the_drug_is_flagged_in_the_adverse_events_without_its_words(
    practice, tmp_path, profile
):
    from kapstone.dosing.models import AdverseEvent

    first = AdverseEvent.objects.order_by("pk").first()
    AdverseEvent.objects.filter(pk=first.pk).update(hypersensitivity=True, kind="Zelbrook wheals on the Quorvexa ward")
    out = tmp_path / profile
    research_export_write(actor_label="test", out_dir=out, profile=profile)
    events = pd.read_csv(out / "adverse_events.csv")
    assert sorted(events["hypersensitivity"].tolist()) == [False, True]
    assert set(events.columns) <= set(TABLES["adverse_events"])
    for path in out.iterdir():
        assert b"Quorvexa" not in path.read_bytes() and b"Zelbrook" not in path.read_bytes()


def test_the_written_data_dictionary_lists_every_table_column_type_and_description_as_the_export_does():
    """docs/research-export.md is what a researcher reads: each table's section, its profiles and its column rows must
    be the export's own (TABLES, PROFILES), in the files' column order, and its format version the export's."""
    import re
    from pathlib import Path

    from kapstone.outcomes.services import EXPORT_VERSION

    text = (Path(__file__).resolve().parents[2] / "docs" / "research-export.md").read_text()
    assert f"Format version {EXPORT_VERSION}." in text
    sections = {
        section.split("\n", 1)[0].strip(): section for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    }
    assert list(sections) == list(TABLES)
    for table, section in sections.items():
        rows = re.findall(r"^\| `([^`]+)` \| (\w+) \| (.*) \|$", section, flags=re.MULTILINE)
        assert [(column, kind, description) for column, kind, description in rows] == [
            (column, kind, description) for column, (kind, description) in TABLES[table].items()
        ], f"docs/research-export.md, table {table}: regenerate its rows from TABLES"
        profiles = re.search(r"^Profiles: (.*)\.$", section, flags=re.MULTILINE).group(1).split(", ")
        assert profiles == [name for name, tables in PROFILES.items() if table in tables], table


def test_every_research_id_has_the_form_the_dictionary_gives(practice, tmp_path):
    import re

    research_export_write(actor_label="test", out_dir=tmp_path)
    described = TABLES["patients"]["research_id"][1]
    example = re.search(r"\(e\.g\. (R-[0-9a-f]{16})\)", described).group(1)
    assert "'R-' followed by the first 16 hex digits" in described and example
    for name in TABLES:
        ids = pd.read_csv(tmp_path / f"{name}.csv")["research_id"].dropna()
        assert ids.str.fullmatch(r"R-[0-9a-f]{16}").all(), name
