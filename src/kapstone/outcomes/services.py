"""The de-identified research export: CSV and Parquet tables with a data dictionary, written in one pass and
recorded in the audit trail; and the stored outcomes report (snapshots.py), built once per version of its inputs.

The export is built from an allow-list: each table below names every column it writes, and nothing else
is selected from the database. Patients appear only under their pseudonym; their dates are shifted by
their own offset (kapstone.outcomes.deidentify). Database ids are not exported either: doses are numbered
per patient in the order they were given.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from kapstone.audit import services as audit
from kapstone.outcomes import deidentify, selectors, snapshots, suppression, tasks
from kapstone.outcomes.models import ReportSnapshot
from kapstone.outcomes.report import OutcomesReport, build_report
from kapstone.outcomes.statistics import age_in_years
from kapstone.spreadsheet import csv_cell

# 2: doses carry site and dosing_setting; long_term_safety and urine_toxicology tables; export profiles.
# 3: doses.site is a keyed code, no longer the site's name (a name an admin typed).
EXPORT_VERSION = 3
PHASE_ORDER = {"pre": 0, "peak": 1, "discharge": 2, "other": 3}

PATIENT_COLUMNS = {
    "research_id": (
        "string",
        "Pseudonymous patient id: 'R-' followed by the first 16 hex digits of the HMAC-SHA256 of the patient's "
        "internal id under the practice's research key (e.g. R-3f9a0c1d2e4b5a69). Stable across exports made with "
        "the same key.",
    ),
    "sex": ("string", "Administrative sex as recorded: female, male, other, unknown."),
    "gender_identity": (
        "string",
        f"One of {', '.join(sorted(deidentify.GENDER_VOCABULARY))}; '{deidentify.GENDER_OTHER}' for any other "
        f"self-description; '{deidentify.GENDER_NOT_RECORDED}' when blank.",
    ),
    "age_at_course_start": (
        "int",
        "Whole years at the start of the first course; 90 means 90 or older "
        "(HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C)).",
    ),
    "primary_icd10": ("string", "ICD-10-CM code of the primary diagnosis."),
    "indication": ("string", "Indication group of the primary diagnosis (outcomes/data/indications.yaml)."),
    "course_template": ("string", "Id of the course template of the first course."),
    "course_start_shifted": ("date", "Start date of the first course, shifted by the patient's offset."),
    "enrolment_status": ("string", "enrolled, completed or withdrawn."),
    "maudsley_score": ("int", "Maudsley Staging Method score (3-15) at the latest screening; blank if not staged."),
    "treatment_resistant": ("bool", "Treatment-resistant at the latest screening; blank if not screened."),
    "screening_decision": ("string", "eligible, needs_review or not_eligible at the latest screening."),
}
ASSESSMENT_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "instrument_id": ("string", "Questionnaire id, e.g. phq9, gad7 (measures/instruments)."),
    "occasion": ("string", "baseline, pre_dosing_N, end_of_course, follow_up_1m/3m/6m or ad_hoc."),
    "total": ("float", "Total score as the instrument's manual defines it."),
    "completed_on_shifted": ("date", "Completion date, shifted by the patient's offset."),
    "days_from_course_start": ("int", "Days from the start of the first course (exact: both dates are shifted alike)."),
}
DOSE_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "dose_number": ("int", "1 for the patient's first dose given, 2 for the second..."),
    "dosing_session_number": ("int", "The session's number within its course."),
    "route": ("string", "im, sublingual, iv or intranasal."),
    "dose_mg": ("float", "Ketamine dose in mg."),
    "weight_kg": ("float", "Weight recorded before dosing, kg."),
    "mg_per_kg": ("float", "dose_mg / weight_kg."),
    "sedation_moaas": ("int", "MOAA/S sedation rating."),
    "dissociation_cadss": ("int", "CADSS dissociation rating."),
    "given_on_shifted": ("date", "Date the dose was given, shifted by the patient's offset."),
    "days_from_course_start": ("int", "Days from the start of the first course."),
    "site": (
        "string",
        "Code of the practice's site of the dosing session (practice setting program.sites): 'S-' followed by the "
        "first 8 hex digits of the HMAC-SHA256 of the site's name under the research key, the same in every export "
        "made with that key; blank if none. The name is not exported: an admin types it, and it may name a person or "
        "a place.",
    ),
    "dosing_setting": ("string", "office or supervised_home (Dore 2019: in the office or supervised at home)."),
}
VITALS_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "dose_number": ("int", "The dose the reading belongs to (see doses)."),
    "phase": ("string", "pre (before dosing), peak (about 40 min after), discharge, other."),
    "systolic": ("int", "Systolic blood pressure, mmHg."),
    "diastolic": ("int", "Diastolic blood pressure, mmHg."),
    "heart_rate": ("int", "Heart rate, beats per minute."),
    "spo2": ("int", "Oxygen saturation, %."),
    "alert_level": ("string", "'' (none), review or stop, by the dosing app's thresholds at the time."),
}
ADVERSE_EVENT_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "dose_number": ("int", "The dose the event followed (see doses)."),
    "severity": ("string", "mild, moderate or severe. The event's free-text kind and description are not exported."),
    "hypersensitivity": (
        "bool",
        "True when the event was recorded as an allergic (hypersensitivity) reaction to the drug (rash, hives, "
        "swelling, wheeze or anaphylaxis after the dose), whatever its severity; false otherwise.",
    ),
    "occurred_on_shifted": ("date", "Date of the event, shifted by the patient's offset."),
}
WINDOW_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "dosed_on_shifted": ("date", "Date of the dose that opened the window, shifted by the patient's offset."),
    "adherence": ("string", "within_48h, within_72h, late or open (integration/data/window.yaml)."),
}
CREATIVITY_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "task": ("string", "aut (Alternative Uses Task) or dat (Divergent Association Task)."),
    "occasion": ("string", "baseline, end_of_course, follow_up_1m/3m/6m."),
    "form_id": ("string", "The AUT form (set of objects) given; dat for the DAT."),
    "closed_by_timer": ("bool", "True when the clock ended the task rather than the patient."),
    "fluency": ("float", "AUT: valid, non-duplicate ideas per object."),
    "flexibility": ("float", "AUT: distinct categories per object."),
    "originality_mean": ("float", "AUT: mean automated originality (1-5 scale) per object."),
    "originality_top2": ("float", "AUT: mean of the two most original ideas per object."),
    "elaboration_mean": ("float", "AUT: mean elaboration per object."),
    "dat_score": ("float", "DAT: mean pairwise semantic distance x 100 (Olson et al. 2021)."),
    "dat_percentile": ("float", "DAT: percentile against random nouns under the same embedding model."),
    "submitted_on_shifted": ("date", "Date the task was submitted, shifted by the patient's offset."),
    "days_from_course_start": ("int", "Days from the start of the first course."),
}
LONG_TERM_SAFETY_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "occasion": ("string", "long_term_safety_N (after dosing session N), follow_up_1m/3m/6m or ad_hoc."),
    **{
        flag: ("bool", f"Long-term safety follow-up (KSET-style, Short 2020): {label}; coded from the form's answers.")
        for flag, label in (
            ("urinary", "urinary or bladder symptoms (items 1-3)"),
            ("cognitive", "new or worse cognitive complaints (item 4)"),
            ("craving_or_use", "craving, or use of ketamine or unprescribed drugs outside the clinic (items 5-6)"),
            ("dissociation_between_sessions", "dissociation on days without a session (item 7)"),
            ("other", "another new change (item 8); the written answer is never exported"),
        )
    },
    "domains_reported": ("int", "Number of the eight items answered yes (0-8)."),
    "completed_on_shifted": ("date", "Completion date, shifted by the patient's offset."),
    "days_from_course_start": ("int", "Days from the start of the first course."),
}
URINE_TOXICOLOGY_COLUMNS = {
    "research_id": ("string", "Pseudonymous patient id (see patients)."),
    "collected_on_shifted": ("date", "Date collected, shifted by the patient's offset."),
    "result": ("string", "negative, positive or invalid."),
    "substances_found": ("string", "Codes found, ';'-separated (measures/data/urine_toxicology.yaml)."),
    "not_prescribed_found": ("string", "Of those, the codes the patient is not prescribed, ';'-separated."),
}
TABLES = {
    "patients": PATIENT_COLUMNS,
    "assessments": ASSESSMENT_COLUMNS,
    "doses": DOSE_COLUMNS,
    "vitals": VITALS_COLUMNS,
    "adverse_events": ADVERSE_EVENT_COLUMNS,
    "integration_windows": WINDOW_COLUMNS,
    "creativity": CREATIVITY_COLUMNS,
    "long_term_safety": LONG_TERM_SAFETY_COLUMNS,
    "urine_toxicology": URINE_TOXICOLOGY_COLUMNS,
}
# What a multi-site ketamine registry would pool (dose, route, frequency, adverse events, outcomes, long-term safety):
# the tables and columns of the `registry` profile, de-identified as the full export. Frequency is carried by the
# doses' days_from_course_start (the interval between doses is exact within a patient).
PROFILES = {
    "full": {table: list(columns) for table, columns in TABLES.items()},
    "registry": {
        "patients": ["research_id", "sex", "age_at_course_start", "primary_icd10", "indication", "enrolment_status"],
        "doses": [
            "research_id",
            "dose_number",
            "route",
            "dose_mg",
            "mg_per_kg",
            "days_from_course_start",
            "site",
            "dosing_setting",
        ],
        "adverse_events": ["research_id", "dose_number", "severity", "hypersensitivity"],
        "assessments": ["research_id", "instrument_id", "occasion", "total", "days_from_course_start"],
        "long_term_safety": list(LONG_TERM_SAFETY_COLUMNS),
        "urine_toxicology": list(URINE_TOXICOLOGY_COLUMNS),
    },
}
README = """Kapstone de-identified research export (format version {version})

Tables: {tables}. Each is written as CSV and as Parquet with the same columns;
data_dictionary.csv describes every column. In the CSV files a text cell that a spreadsheet would run as a
formula (one starting with =, +, -, @, a tab or a carriage return) starts with an apostrophe; the Parquet files
hold the text as it is.

De-identification
- Patients appear only under research_id, a keyed hash (HMAC-SHA256) of their internal id. The key stays
  with the practice; exports made with the same key share ids (key fingerprint {fingerprint}).
- Every date of a patient is shifted by one offset of 2 to 180 days, earlier or later, fixed for that patient
  under the key, so intervals within a patient are exact. Shifted dates are NOT real dates. HIPAA Safe Harbor
  itself would keep only years; shifted dates are a practice decision, so treat this export as a limited data
  set under a data use agreement unless a determination says otherwise.
- Ages are whole years at the start of the first course, top-coded at 90 (90 = 90 or older).
- Sites appear only as codes (a keyed hash of the site's name, stable under the key); the names are not exported.
- Never exported: names, addresses, postal codes, telephone numbers, email addresses, record numbers,
  database ids, care-team and staff identities, free text of any kind (journal entries, notes,
  adverse-event descriptions, intentions) and psychotherapy notes.
"""


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    patients: int
    rows: dict[str, int]
    files: list[str]


def _key_fingerprint(key: str) -> str:
    return hmac.new(key.encode(), b"fingerprint", hashlib.sha256).hexdigest()[:8]


def _local_dates(values: pd.Series) -> pd.Series:
    """Calendar dates in the practice's time zone, as datetime64 (midnight), from aware datetimes or dates."""
    stamps = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
    return stamps.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None).dt.normalize()


def _shifted(dates: pd.Series, offsets: pd.Series) -> pd.Series:
    return (dates.astype("datetime64[ns]") + pd.to_timedelta(offsets.astype("int64"), unit="D")).dt.date


def _typed(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    frame = frame[list(columns)].copy()
    for name, (kind, _) in columns.items():
        if kind == "int":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").round().astype("Int64")
        elif kind == "float":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif kind == "bool":
            frame[name] = frame[name].astype("boolean")
        elif kind == "string":
            frame[name] = frame[name].astype("string")
    return frame


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each text cell as a CSV cell that runs nothing when a spreadsheet opens it (csv_cell): a code
    stored past its check (a diagnosis code written in bulk) must run nothing in the spreadsheet a researcher opens.
    The Parquet files keep the text as it is, since no spreadsheet runs what a Parquet reader reads."""
    safe = frame.copy()
    for name in safe.columns:
        if not (pd.api.types.is_string_dtype(safe[name]) or safe[name].dtype == object):
            continue
        safe[name] = safe[name].map(lambda value: csv_cell(value) if isinstance(value, str) else value)
    return safe


def _tables(key: str) -> dict[str, pd.DataFrame]:
    """Every table of the export, de-identified, for the course cohort (one query per source table)."""
    courses = selectors.course_frame()
    patients = courses.merge(selectors.patient_frame(), on="patient_id", how="inner")
    patients = patients.merge(selectors.screening_frame(), on="patient_id", how="left")
    ids = patients["patient_id"]
    research_id = pd.Series({pid: deidentify.pseudonym(key, pid) for pid in ids}, dtype="object")
    offset = pd.Series({pid: deidentify.date_shift_days(key, pid) for pid in ids}, dtype="int64")
    course_start = dict(zip(ids, pd.to_datetime(patients["course_start"]), strict=True))

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[frame["patient_id"].isin(ids)].copy()
        frame["research_id"] = frame["patient_id"].map(research_id)
        return frame

    def dated(frame: pd.DataFrame, source: str, shifted_name: str, *, days_from_start: bool = True) -> pd.DataFrame:
        local = _local_dates(frame[source])
        frame[shifted_name] = _shifted(local, frame["patient_id"].map(offset))
        if days_from_start:
            started = frame["patient_id"].map(course_start).astype("datetime64[ns]")
            frame["days_from_course_start"] = (local - started).dt.days
        return frame

    ages = age_in_years(
        pd.to_datetime(patients["date_of_birth"]).to_numpy(), pd.to_datetime(patients["course_start"]).to_numpy()
    )
    patient_table = pd.DataFrame(
        {
            "patient_id": ids,
            "research_id": ids.map(research_id),
            "sex": patients["sex"],
            "gender_identity": patients["gender_identity"].map(deidentify.gender_category),
            "age_at_course_start": [deidentify.top_coded_age(age) for age in ages],
            "primary_icd10": patients["icd10_code"],
            "indication": patients["indication"],
            "course_template": patients["template_id"],
            "course_start_shifted": _shifted(pd.to_datetime(patients["course_start"]), ids.map(offset)),
            "enrolment_status": patients["enrolment_status"],
            "maudsley_score": patients["maudsley_score"],
            "treatment_resistant": patients["treatment_resistant"],
            "screening_decision": patients["decision"],
        }
    )

    assessments = dated(keyed(selectors.assessment_frame()), "completed_at", "completed_on_shifted")
    assessments = assessments.sort_values(["research_id", "completed_on_shifted", "instrument_id", "occasion"])

    doses = keyed(selectors.dose_rows()).sort_values(["patient_id", "administered_at", "dose_record_id"])
    doses["dose_number"] = doses.groupby("patient_id").cumcount() + 1
    doses["mg_per_kg"] = (
        pd.to_numeric(doses["dose_mg"], errors="coerce") / pd.to_numeric(doses["weight_kg"], errors="coerce")
    ).round(3)
    doses = dated(doses, "administered_at", "given_on_shifted")
    doses["site"] = doses["site"].map(lambda site: deidentify.site_code(key, site))
    dose_number = doses.set_index("dose_record_id")["dose_number"]

    vitals = keyed(selectors.vitals_rows())
    vitals["dose_number"] = vitals["dose_record_id"].map(dose_number)
    vitals["phase_order"] = vitals["phase"].map(PHASE_ORDER)
    vitals = vitals.sort_values(["research_id", "dose_number", "phase_order"])

    events = keyed(selectors.adverse_event_rows())
    events["dose_number"] = events["dose_record_id"].map(dose_number)
    events = dated(events, "occurred_at", "occurred_on_shifted", days_from_start=False)

    windows = dated(keyed(selectors.adherence_frame()), "dosed_at", "dosed_on_shifted", days_from_start=False)

    creativity = dated(keyed(selectors.creativity_frame()), "submitted_at", "submitted_on_shifted")

    safety_forms = dated(keyed(selectors.long_term_safety_frame()), "completed_at", "completed_on_shifted")
    for flag in ("urinary", "cognitive", "craving_or_use", "dissociation_between_sessions", "other"):
        safety_forms[flag] = safety_forms["flags"].map(lambda flags, flag=flag: flag in flags)
    safety_forms["domains_reported"] = safety_forms["answers"].map(lambda answers: sum(answers.values()))

    screens = keyed(selectors.urine_toxicology_frame())
    screens["collected_on_shifted"] = _shifted(
        pd.to_datetime(screens["collected_on"]), screens["patient_id"].map(offset)
    )
    screens["not_prescribed_found"] = [
        ";".join(sorted(set(found) - set(prescribed)))
        for found, prescribed in zip(screens["substances_found"], screens["prescribed_found"], strict=True)
    ]
    screens["substances_found"] = screens["substances_found"].map(lambda codes: ";".join(codes))

    frames = {
        "patients": patient_table.sort_values("research_id"),
        "assessments": assessments,
        "doses": doses.sort_values(["research_id", "dose_number"]),
        "vitals": vitals,
        "adverse_events": events.sort_values(["research_id", "dose_number"]),
        "integration_windows": windows.sort_values(["research_id", "dosed_on_shifted"]),
        "creativity": creativity.sort_values(["research_id", "submitted_on_shifted", "task"]),
        "long_term_safety": safety_forms.sort_values(["research_id", "completed_on_shifted"]),
        "urine_toxicology": screens.sort_values(["research_id", "collected_on_shifted"]),
    }
    return {name: _typed(frame, TABLES[name]).reset_index(drop=True) for name, frame in frames.items()}


def _dictionary(profile: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "table": table,
                "column": column,
                "type": TABLES[table][column][0],
                "description": TABLES[table][column][1],
            }
            for table, columns in profile.items()
            for column in columns
        ]
    )


def dictionary_document() -> dict[str, object]:
    """The machine-readable data dictionary (docs/research-export-dictionary.json): every table and column of every
    profile, with its type and description (unit and coding are in the description)."""
    return {
        "format_version": EXPORT_VERSION,
        "tables": {
            table: [{"column": column, "type": kind, "description": text} for column, (kind, text) in columns.items()]
            for table, columns in TABLES.items()
        },
        "profiles": PROFILES,
    }


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


# Not atomic: what it writes are files, which no transaction can take back; its one database write is the audit row,
# made once the files are written. A transaction held open across the whole build would guard nothing.
def research_export_write(
    *,
    actor_label: str,
    out_dir: Path,
    progress: Callable[[str], None] = lambda message: None,
    run_from: dict[str, str] | None = None,
    profile: str = "full",
) -> ExportResult:
    """Writes the export into `out_dir` (created if missing) and records it in the audit trail.

    The audit row names who exported (from the request or command context; `actor_label` is the same name,
    for the progress messages), where a command ran it (`run_from`: its operating-system user and host), the
    row counts and the key fingerprint, never a patient.
    """
    key = settings.RESEARCH_ID_KEY
    out_dir = Path(out_dir)
    # Readable by its owner only: the folder is closed before any file is written into it, so no file is ever
    # readable by others, even for the moment before its own mode is narrowed.
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir.chmod(PRIVATE_DIR)
    if profile not in PROFILES:
        raise ValueError(f"Unknown export profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    chosen = PROFILES[profile]
    progress(f"building the de-identified tables for {actor_label} (profile {profile})")
    tables = {name: frame[chosen[name]] for name, frame in _tables(key).items() if name in chosen}
    files = []
    for name, frame in tables.items():
        _spreadsheet_safe(frame).to_csv(out_dir / f"{name}.csv", index=False)
        frame.to_parquet(out_dir / f"{name}.parquet", engine="pyarrow", index=False)
        files += [f"{name}.csv", f"{name}.parquet"]
        progress(f"{name}: {len(frame):,} rows")
    _spreadsheet_safe(_dictionary(chosen)).to_csv(out_dir / "data_dictionary.csv", index=False)
    fingerprint = _key_fingerprint(key)
    (out_dir / "README.txt").write_text(
        README.format(version=EXPORT_VERSION, tables=", ".join(chosen), fingerprint=fingerprint)
    )
    rows = {name: len(frame) for name, frame in tables.items()}
    manifest = {"format_version": EXPORT_VERSION, "profile": profile, "key_fingerprint": fingerprint, "rows": rows}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    files += ["data_dictionary.csv", "README.txt", "manifest.json"]
    for name in files:
        (out_dir / name).chmod(PRIVATE_FILE)
    audit.record(
        action=audit.Action.EXPORT,
        object_type="research_export",
        detail={"patients": len(tables["patients"]), **manifest, **({"run_from": run_from} if run_from else {})},
    )
    return ExportResult(out_dir=out_dir, patients=len(tables["patients"]), rows=rows, files=files)


def research_export_zip(*, actor_label: str) -> tuple[bytes, ExportResult]:
    """The export as a ZIP in memory, for the download page (written to a private temporary folder first)."""
    with tempfile.TemporaryDirectory(prefix="kapstone-export-") as folder:
        result = research_export_write(actor_label=actor_label, out_dir=Path(folder))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in result.files:
                archive.write(Path(folder) / name, arcname=f"kapstone-research-export/{name}")
    return buffer.getvalue(), result


# Not atomic as a whole: a transaction across the build's slow reads guards nothing; storing it is one transaction.
def report_snapshot_build(
    *,
    filters: selectors.ReportFilters,
    facilitator_label: str,
    min_cell: int,
    inputs: tuple[str, int] | None = None,
) -> ReportSnapshot:
    """Builds the report for these filters and this reader (a researcher's `min_cell`, else 0) from the data as it is
    now, and stores it as its page shows it. The fingerprint (`inputs`, snapshots.fingerprint's, when the page that
    started the build read it) is read before the data, so a change committed since leaves the snapshot out of date
    rather than passing for current. Writes no audit row: nobody has read it yet; each page view that shows it records
    its own."""
    key = snapshots.report_key(filters.as_plain(), facilitator_label, min_cell)
    digest, last_change = inputs or snapshots.fingerprint()
    report = build_report(filters, facilitator_label=facilitator_label)
    if min_cell:
        report = suppression.for_researcher(report, min_cell)
    body_html = render_to_string("outcomes/includes/report_body.html", {"report": report})
    with transaction.atomic():
        return snapshots.store(
            key=key,
            digest=digest,
            last_change=last_change,
            built_at=report.generated_at,
            valid_until=report.valid_until,
            body_html=body_html,
        )


def report_snapshot_for_view(
    *, filters: selectors.ReportFilters, facilitator_label: str, min_cell: int, inputs: tuple[str, int]
) -> tuple[ReportSnapshot | None, datetime.datetime | None]:
    """The stored report for these filters and this reader when it is current: built from the inputs whose
    fingerprint the page read once (`inputs`, snapshots.fingerprint's), before anything else it reads. Otherwise its
    build is claimed and started from that fingerprint: in this request when tasks run eagerly (then the new snapshot
    is returned), else by a worker, and the snapshot is None with the time the build under way started. Never older
    figures as current: a change committed after the page read the fingerprint leaves the snapshot built from it out
    of date, and the next view builds again. Not one transaction: the claim must be seen by other views at once, so
    they wait for this build rather than start their own. Each view is recorded as a read of the report, with the
    date of the figures it shows (none while it is being updated)."""
    key = snapshots.report_key(filters.as_plain(), facilitator_label, min_cell)
    digest, _ = inputs
    snapshot = snapshots.current_snapshot(key, digest)
    if snapshot is None and snapshots.claim_build(key, digest):
        tasks.build_report_snapshot.delay(filters.as_plain(), facilitator_label, min_cell, *inputs)
        snapshot = snapshots.current_snapshot(key, digest)  # already built when tasks run eagerly
    as_of = snapshot.built_at.isoformat() if snapshot and snapshot.built_at else None
    audit.record(
        action=audit.Action.READ,
        object_type="outcomes_report",
        detail={"filters": filters.describe(facilitator_label), "figures_as_of": as_of},
    )
    return snapshot, None if snapshot else snapshots.building_since(key)


def report_for_document(*, filters: selectors.ReportFilters, facilitator_label: str, min_cell: int) -> OutcomesReport:
    """The report for a file made on demand (the PDF): built from the data as it is now, never from a stored report,
    suppressed below `min_cell` for a researcher, and recorded as a read of the report."""
    report = build_report(filters, facilitator_label=facilitator_label)
    if min_cell:
        report = suppression.for_researcher(report, min_cell)
    audit.record(action=audit.Action.READ, object_type="outcomes_report", detail={"filters": report.filters})
    return report


__all__ = [
    "ExportResult",
    "report_for_document",
    "report_snapshot_build",
    "report_snapshot_for_view",
    "research_export_write",
    "research_export_zip",
]
