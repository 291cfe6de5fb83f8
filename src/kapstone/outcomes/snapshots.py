"""When the outcomes report must be recomputed: the fingerprint of its inputs, and the stored snapshots it is checked
against.

The report's statistics (mixed-model fits included) take seconds on a large practice, so each report is built once per
version of its inputs and stored (models.ReportSnapshot); a page view compares the stored fingerprint with the
current one and shows the snapshot only when they match, so a stored report is never shown as current once its
inputs have changed. The fingerprint is read in one query of index lookups, whatever the practice's size:

- the newest id of every table the report reads, which moves with every row added, however it was added (a bulk
  load or a form);
- the newest InputChange: every save or delete of a row of those tables through the ORM records one after its
  transaction commits (receivers connected in apps.py). After the commit, so that its id is newer than the fingerprint
  of any build that could have read the data before the change (ids are handed out in order, commits are not);
- the code and data files the report is computed from, so a new release does not show numbers computed by the old.

Time alone also changes figures (an integration window still open becomes late): a snapshot carries the moment its
figures stop holding (report.valid_until) and is out of date from then on.

Writes that bypass the ORM's save and delete (queryset.update, raw SQL) on an input table must not change what the
report reads; today's (expiring unanswered questionnaires and creativity tasks) change rows the report never reads.

This module stays light (no pandas, SciPy or statsmodels): the receivers run in every process that writes clinical
data, and a page view that finds its snapshot current needs none of the report's libraries.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from kapstone.compiled_once import compiled_once
from kapstone.creativity.models import CreativityAdministration
from kapstone.dosing.models import AdverseEvent, DoseRecord, VitalsReading
from kapstone.integration.models import IntegrationNote, IntegrationWindow, JournalEntry
from kapstone.measures.models import Assessment, BaselineTotal, PracticeBaseline, UrineToxicology
from kapstone.outcomes.models import InputChange, ReportSnapshot
from kapstone.patients.models import Diagnosis, Patient
from kapstone.practice.models import PracticeSetting
from kapstone.program.models import Enrolment, Group, GroupSession
from kapstone.screening.models import ScreeningResult

# Every table the report reads (selectors.py), and those its rules read: the practice's settings and baseline samples
# (measures.selectors.change_rule). A test checks that the report reads no other model.
INPUT_MODELS: tuple[type[Model], ...] = (
    Patient,
    Diagnosis,
    ScreeningResult,
    Group,
    Group.facilitators.through,
    GroupSession,
    GroupSession.facilitators.through,
    Enrolment,
    Assessment,
    BaselineTotal,
    PracticeBaseline,
    UrineToxicology,
    CreativityAdministration,
    DoseRecord,
    VitalsReading,
    AdverseEvent,
    IntegrationWindow,
    JournalEntry,
    IntegrationNote,
    PracticeSetting,
)
# The files the figures are computed from, besides the database: this app's code, templates and data, and the
# questionnaires' definitions (their change rules).
PACKAGE = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = (PACKAGE / "outcomes", PACKAGE / "measures" / "instruments")
SOURCE_SUFFIXES = (".py", ".html", ".yaml")
# A build that has not finished in this long is taken to have failed, and the next view starts another.
BUILD_TIMEOUT = datetime.timedelta(minutes=5)


@functools.cache
def code_version() -> str:
    digest = hashlib.sha256()
    for folder in SOURCE_FOLDERS:
        for path in sorted(folder.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(PACKAGE)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _newest_ids_sql() -> str:
    """One statement of one primary-key lookup per table (each an index's last entry, on SQLite and PostgreSQL)."""
    quote = connection.ops.quote_name
    newest = []
    tables: tuple[type[Model], ...] = (*INPUT_MODELS, InputChange)
    for model in tables:
        column = model._meta.pk.column
        assert column is not None  # a concrete model's primary key is a stored column
        # Safe: the models' own table and column names, quoted by the backend; nothing comes from input.
        newest.append(f"(SELECT MAX({quote(column)}) FROM {quote(model._meta.db_table)})")  # noqa: S608
    return "SELECT " + ", ".join(newest)


def fingerprint() -> tuple[str, int]:
    """The fingerprint of the report's inputs now, and the newest InputChange id it includes (0 when none)."""
    with connection.cursor() as cursor:
        cursor.execute(_newest_ids_sql())
        newest = list(cursor.fetchone())
    digest = hashlib.sha256(json.dumps([code_version(), newest]).encode()).hexdigest()
    return digest, newest[-1] or 0


def report_key(filters: dict[str, object], facilitator_label: str, min_cell: int) -> str:
    """Which report: its filters (as plain values), the facilitator's name it prints and the reader's minimum cell size
    (a researcher's report is suppressed below it)."""
    described = json.dumps([filters, facilitator_label, min_cell], sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def current_snapshot(key: str, digest: str) -> ReportSnapshot | None:
    """The stored report for `key` if it was built from the inputs whose fingerprint is `digest` (read by the caller,
    once for all it asks) and its figures still hold."""
    rows = _current_snapshot(key=key, digest=digest, now=timezone.now())
    return rows[0] if rows else None


@compiled_once(key=str, digest=str, now=datetime.datetime)
def _current_snapshot(*, key: str, digest: str, now: datetime.datetime) -> QuerySet[ReportSnapshot]:
    # Compiled once (kapstone.compiled_once): every view of the report asks, and compiling it took as long as reading.
    return (
        ReportSnapshot.objects.filter(key=key, fingerprint=digest, built_at__isnull=False)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("pk")[:1]
    )


def building_since(key: str) -> datetime.datetime | None:
    """When the build under way for `key` started, if one is."""
    row = ReportSnapshot.objects.filter(key=key, building_since__gt=timezone.now() - BUILD_TIMEOUT).first()
    return row.building_since if row else None


def claim_build(key: str, digest: str) -> bool:
    """Claims the build of `key`'s report for the inputs whose fingerprint is `digest`; False when a build of them is
    under way already (its page says the report is being updated, rather than starting a second)."""
    now = timezone.now()
    ReportSnapshot.objects.get_or_create(key=key)
    claimed = (
        ReportSnapshot.objects.filter(key=key)
        .exclude(building_fingerprint=digest, building_since__gt=now - BUILD_TIMEOUT)
        .update(building_fingerprint=digest, building_since=now)
    )
    return claimed == 1


def release_build(key: str) -> None:
    """Gives up a claim whose build failed, so the next view tries again."""
    ReportSnapshot.objects.filter(key=key).update(building_fingerprint="", building_since=None)


def store(*, key: str, digest: str, last_change: int, built_at, valid_until, body_html: str) -> ReportSnapshot:
    """Stores a built report and forgets what no longer matters: other reports built from older inputs (they would be
    rebuilt anyway) and the change records older than the newest this build saw."""
    snapshot, _ = ReportSnapshot.objects.update_or_create(
        key=key,
        defaults={
            "fingerprint": digest,
            "built_at": built_at,
            "valid_until": valid_until,
            "body_html": body_html,
            "building_fingerprint": "",
            "building_since": None,
        },
    )
    ReportSnapshot.objects.exclude(fingerprint=digest).filter(building_since__isnull=True).delete()
    InputChange.objects.filter(pk__lt=last_change).delete()
    return snapshot


def _record_change() -> None:
    InputChange.objects.create()


def _input_changed(sender, **kwargs) -> None:
    """Records the change once the transaction that saved or deleted an input row commits (never if it rolls back).
    One row per row saved: the receivers stay free of Django's private transaction state, and a page that saves a few
    rows adds as many small inserts."""
    if kwargs.get("raw"):
        return  # a fixture being loaded: not a change the report could have read
    transaction.on_commit(_record_change, using=kwargs.get("using"))


def connect_receivers() -> None:
    for model in INPUT_MODELS:
        uid = f"outcomes.input.{model._meta.label_lower}"
        post_save.connect(_input_changed, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(_input_changed, sender=model, dispatch_uid=f"{uid}.delete")
    for relation in (Group.facilitators.through, GroupSession.facilitators.through):
        m2m_changed.connect(
            _input_changed, sender=relation, dispatch_uid=f"outcomes.input.{relation._meta.label_lower}"
        )
