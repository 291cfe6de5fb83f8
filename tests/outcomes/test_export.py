"""The research export: every file searched for every identifier of every synthetic patient."""

import datetime
import io
import json
import zipfile

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from kapstone.audit.models import AuditEvent
from kapstone.outcomes import cli as outcomes_cli
from kapstone.outcomes.deidentify import date_shift_days, pseudonym, site_code
from kapstone.outcomes.services import TABLES, research_export_write
from tests.outcomes.factories import build_practice, identifiers

pytestmark = pytest.mark.django_db


def _file_texts(folder) -> dict[str, str]:
    """Every file as text: CSV/TXT/JSON as written, Parquet both as its raw bytes and as its decoded rows."""
    texts = {}
    for path in sorted(folder.iterdir()):
        raw = path.read_bytes()
        texts[path.name] = raw.decode("latin-1")
        if path.suffix == ".parquet":
            texts[f"{path.name} (rows)"] = pq.read_table(path).to_pandas().to_csv(index=False)
    return texts


@pytest.fixture
def exported(tmp_path):
    practice = build_practice()
    result = research_export_write(actor_label="test", out_dir=tmp_path / "export")
    return practice, result, tmp_path / "export"


def test_no_file_holds_any_identifier_of_any_patient(exported):
    practice, _, folder = exported
    texts = _file_texts(folder)
    assert any(name.endswith(".parquet") for name in texts)
    for patient in practice.patients:
        for identifier in identifiers(patient):
            for name, text in texts.items():
                assert identifier.lower() not in text.lower(), f"{identifier!r} of patient {patient.pk} is in {name}"


def test_no_free_text_or_note_reaches_the_export(exported):
    _, _, folder = exported
    for name, text in _file_texts(folder).items():
        for secret in (
            "Marguerite",
            "Biscuitmorrow",
            "kitchen",
            "Vomited",
            "ondansetron",
            "nausea",
            "secrets",
            "Galactic",
        ):
            assert secret.lower() not in text.lower(), f"{secret!r} is in {name}"


def test_no_patient_row_carries_one_of_that_patients_real_dates(exported):
    practice, _, folder = exported
    for table in TABLES:
        frame = pd.read_csv(folder / f"{table}.csv", dtype=str)
        for patient in practice.patients:
            rows = frame[frame["research_id"] == pseudonym(settings.RESEARCH_ID_KEY, patient.pk)]
            text = rows.to_csv(index=False)
            real_dates = practice.real_dates[patient.pk] | {practice.group.start_date}
            shift = datetime.timedelta(days=date_shift_days(settings.RESEARCH_ID_KEY, patient.pk))
            for real in real_dates:
                # A shifted date may land on another of the patient's real dates (events a week apart, shifted
                # by whole weeks); that is a coincidence, not a leak, as long as it is a shifted event.
                if real - shift not in real_dates:
                    assert real.isoformat() not in text, f"real date {real} of patient {patient.pk} is in {table}"


def test_dates_move_by_the_patients_own_offset_so_intervals_stay_exact(exported):
    practice, _, folder = exported
    patient = practice.patients[0]
    research_id = pseudonym(settings.RESEARCH_ID_KEY, patient.pk)
    shift = pd.Timedelta(days=date_shift_days(settings.RESEARCH_ID_KEY, patient.pk))
    patients = pd.read_csv(folder / "patients.csv").set_index("research_id")
    assert pd.Timestamp(patients.loc[research_id, "course_start_shifted"]) == (
        pd.Timestamp(practice.group.start_date) + shift
    )
    doses = pd.read_csv(folder / "doses.csv")
    given = pd.to_datetime(doses[doses["research_id"] == research_id]["given_on_shifted"])
    assert list(given.diff().dropna().dt.days) == [7, 7, 7]


def test_ages_over_89_are_grouped_at_90_and_ids_are_pseudonyms(exported):
    practice, result, folder = exported
    patients = pd.read_csv(folder / "patients.csv")
    assert len(patients) == len(practice.patients) == result.patients
    assert patients["age_at_course_start"].max() == 90
    assert set(patients["research_id"]) == {pseudonym(settings.RESEARCH_ID_KEY, p.pk) for p in practice.patients}
    assert "other" in set(patients["gender_identity"])


def test_the_export_has_every_table_as_csv_and_parquet_with_a_dictionary(exported):
    _, result, folder = exported
    dictionary = pd.read_csv(folder / "data_dictionary.csv")
    for table, columns in TABLES.items():
        csv = pd.read_csv(folder / f"{table}.csv")
        parquet = pq.read_table(folder / f"{table}.parquet")
        assert list(csv.columns) == list(columns) == parquet.column_names
        assert len(csv) == parquet.num_rows == result.rows[table]
        assert set(dictionary[dictionary["table"] == table]["column"]) == set(columns)
    assert result.rows["doses"] == 6 * 4 and result.rows["adverse_events"] == 2
    assert json.loads((folder / "manifest.json").read_text())["rows"] == result.rows


def test_the_export_is_recorded_in_the_audit_trail(exported):
    _, result, _ = exported
    event = AuditEvent.objects.filter(action="export", object_type="research_export").get()
    assert json.loads(event.detail)["patients"] == result.patients


def test_two_exports_with_the_same_key_give_the_same_ids(exported, tmp_path):
    _, _, folder = exported
    research_export_write(actor_label="test", out_dir=tmp_path / "again")
    first = pd.read_csv(folder / "patients.csv")
    second = pd.read_csv(tmp_path / "again" / "patients.csv")
    pd.testing.assert_frame_equal(first, second)


def test_the_export_command_writes_the_folder(tmp_path):
    build_practice(3)
    out = io.StringIO()
    call_command("export", "research", "--out", str(tmp_path / "cli"), stdout=out, stderr=io.StringIO())
    assert "3 patients" in out.getvalue()
    assert (tmp_path / "cli" / "patients.parquet").exists()


def test_the_export_command_refuses_a_file_or_a_missing_parent(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, tmp_path / "missing" / "deeper"):
        with pytest.raises(CommandError) as error:
            call_command("export", "research", "--out", str(out))
        assert error.value.returncode == 2


def test_an_empty_practice_exports_empty_tables_with_headers(tmp_path):
    result = research_export_write(actor_label="test", out_dir=tmp_path)
    assert result.patients == 0
    assert list(pd.read_csv(tmp_path / "doses.csv").columns) == list(TABLES["doses"])


def test_the_export_page_says_each_patient_has_a_date_shift_of_their_own(cast, client_for):
    page = client_for(cast.researcher).get(reverse("outcomes:research_export")).content.decode()
    # "One fixed number of days" read as one shift for the whole practice, which would be a weaker protection.
    assert "shifted by a number of days of their own" in page and "one fixed number" not in page


def test_the_zip_download_holds_the_same_files(client_for, cast):
    from django.urls import reverse

    build_practice(2)
    response = client_for(cast.researcher).post(reverse("outcomes:research_export"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "kapstone-research-export/patients.parquet" in names
    assert "kapstone-research-export/data_dictionary.csv" in names
    event = AuditEvent.objects.filter(action="export", object_type="research_export").get()
    assert event.actor_label == cast.researcher.get_username()


@pytest.fixture
def operator(monkeypatch):
    """The operating-system user and host the command runs as."""
    monkeypatch.setattr(outcomes_cli.getpass, "getuser", lambda: "synthetic-operator")
    monkeypatch.setattr(outcomes_cli.socket, "gethostname", lambda: "synthetic-host")
    return {"os_user": "synthetic-operator", "host": "synthetic-host"}


def _export_event() -> AuditEvent:
    return AuditEvent.objects.filter(action="export", object_type="research_export").get()


def test_the_export_command_audits_the_operating_system_user_and_host(tmp_path, operator):
    build_practice(2)
    call_command("export", "research", "--out", str(tmp_path / "cli"), stdout=io.StringIO(), stderr=io.StringIO())
    event = _export_event()
    assert (event.actor_id, event.actor_label) == (None, "system:export research")
    assert json.loads(event.detail)["run_from"] == operator


def test_the_export_command_names_the_uid_when_the_os_user_has_no_name(tmp_path, monkeypatch):
    def nameless():
        raise OSError("No username set in the environment")

    monkeypatch.setattr(outcomes_cli.getpass, "getuser", nameless)
    call_command("export", "research", "--out", str(tmp_path / "cli"), stdout=io.StringIO(), stderr=io.StringIO())
    assert json.loads(_export_event().detail)["run_from"]["os_user"].startswith("uid ")


@pytest.mark.parametrize("who", ["researcher", "admin"])
def test_the_export_command_by_a_researcher_or_admin_is_audited_under_their_account(tmp_path, operator, cast, who):
    person = getattr(cast, who)
    build_practice(2)
    out = io.StringIO()
    call_command(
        "export", "research", "--out", str(tmp_path / "cli"), "--by", person.username, stdout=out, stderr=io.StringIO()
    )
    assert "2 patients" in out.getvalue()
    event = _export_event()
    assert (event.actor_id, event.actor_label) == (person.pk, person.get_username())
    assert json.loads(event.detail)["run_from"] == operator


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "no active account 'nobody'"),
        ("theo", "not a researcher or an admin"),  # a therapist
        ("nina", "not a researcher or an admin"),  # a nurse
        ("alice", "not a researcher or an admin"),  # a patient
        ("rhea", "no active account 'rhea'"),  # the researcher, deactivated below
    ],
)
def test_the_export_command_refuses_any_other_by_with_status_2_and_writes_nothing(tmp_path, cast, username, message):
    type(cast.researcher).objects.filter(pk=cast.researcher.pk).update(is_active=False)
    build_practice(2)
    with pytest.raises(CommandError, match=message) as error:
        call_command("export", "research", "--out", str(tmp_path / "cli"), "--by", username)
    assert error.value.returncode == 2
    assert not (tmp_path / "cli").exists()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_files_and_folder_are_readable_by_their_owner_only(exported):
    _, result, folder = exported
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {(folder / name).stat().st_mode & 0o777 for name in result.files} == {0o600}


def test_the_report_file_is_readable_by_its_owner_only(tmp_path):
    from kapstone.outcomes.render import write_report
    from kapstone.outcomes.report import build_report

    path = tmp_path / "report.html"
    path.write_text("old")
    path.chmod(0o644)
    write_report(build_report(), path, "html")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_site_named_after_a_person_leaves_only_as_a_code_stable_under_the_key(tmp_path):
    """A site is a name an admin typed (program.sites): here a clinician's name and a street. The export writes a keyed
    code for it, the same in every export under the key, so researchers still group by site; never the name."""
    from kapstone.program.models import GroupSession

    practice = build_practice()
    sessions = GroupSession.objects.filter(group=practice.group).order_by("number")
    sessions.filter(number__lte=2).update(site="Dr Marguerite Oyelaran's rooms")
    sessions.filter(number__gt=2).update(site="12 Hollowmere Crescent")
    for folder in ("export", "again"):
        research_export_write(actor_label="test", out_dir=tmp_path / folder)
    doses = pd.read_csv(tmp_path / "export" / "doses.csv", dtype=str, keep_default_na=False)
    key = settings.RESEARCH_ID_KEY
    codes = {site_code(key, "Dr Marguerite Oyelaran's rooms"), site_code(key, "12 Hollowmere Crescent")}
    assert set(doses["site"]) == codes and len(codes) == 2
    assert all(code.startswith("S-") and len(code) == 10 for code in codes)
    again = pd.read_csv(tmp_path / "again" / "doses.csv", dtype=str, keep_default_na=False)
    assert list(again["site"]) == list(doses["site"])
    for path in (tmp_path / "export").iterdir():
        content = path.read_bytes()
        assert b"Oyelaran" not in content and b"Hollowmere" not in content, path.name


def test_a_text_cell_that_reads_as_a_formula_runs_nothing_in_the_csv_and_is_kept_in_the_parquet(tmp_path):
    """Defence in depth: a diagnosis code is checked when staff type it, but one stored past the check (in bulk) must
    still run nothing in the spreadsheet a researcher opens the CSV in."""
    from kapstone.patients.models import Diagnosis

    practice = build_practice()
    formula = "=2+5"  # the field holds 8 characters
    Diagnosis.objects.filter(patient=practice.patients[0]).update(icd10_code=formula)
    research_export_write(actor_label="test", out_dir=tmp_path / "export")
    patients = pd.read_csv(tmp_path / "export" / "patients.csv", dtype=str, keep_default_na=False)
    assert "'" + formula in set(patients["primary_icd10"])
    assert formula in set(pq.read_table(tmp_path / "export" / "patients.parquet").to_pandas()["primary_icd10"])
    for path in (tmp_path / "export").glob("*.csv"):
        cells = pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")], path.name
