"""Reads for measurement-based care. Staff reach patients only through the care-team filter
(patients.selectors); patients reach only their own record. Reads of identified data are audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from kapstone.audit import services as audit
from kapstone.measures.change import classify_change
from kapstone.measures.models import Assessment, CriticalAlert
from kapstone.measures.scoring import Instrument, ScoringError, get_instrument
from kapstone.patients.models import Patient
from kapstone.patients.selectors import patients_visible_to

ALERTS_PER_PAGE = 100
DUE_ON_HOME = 10


def _visible_alerts(user) -> QuerySet[CriticalAlert]:
    return CriticalAlert.objects.filter(patient__in=patients_visible_to(user)).select_related(
        "patient", "assessment", "acknowledged_by"
    )


def open_alerts_for(user, *, limit: int = ALERTS_PER_PAGE) -> list[CriticalAlert]:
    """Unacknowledged critical alerts of the patients this user may see, newest first (for the staff home)."""
    alerts = list(_visible_alerts(user).filter(acknowledged_at__isnull=True).order_by("-raised_at", "-id")[:limit])
    if alerts:
        audit.record(
            action=audit.Action.READ,
            object_type="critical_alert_list",
            detail={"alert_ids": [a.pk for a in alerts], "patient_ids": sorted({a.patient_id for a in alerts})},
        )
    return alerts


def alert_queue(*, user, show_acknowledged: bool = False) -> list[CriticalAlert]:
    alerts = _visible_alerts(user)
    if not show_acknowledged:
        alerts = alerts.filter(acknowledged_at__isnull=True)
    listed = list(alerts.order_by("acknowledged_at", "-raised_at", "-id")[:ALERTS_PER_PAGE])
    audit.record(
        action=audit.Action.READ,
        object_type="critical_alert_list",
        detail={"alert_ids": [a.pk for a in listed], "acknowledged_shown": show_acknowledged},
    )
    return listed


def alert_get(*, user, alert_id) -> CriticalAlert:
    try:
        return _visible_alerts(user).get(pk=int(alert_id))
    except (CriticalAlert.DoesNotExist, ValueError, TypeError):
        raise Http404("No such alert.") from None


def due_assessments_for(user, *, limit: int = DUE_ON_HOME) -> list[Assessment]:
    """Open questionnaires already due for the user's patients, oldest first (for the staff home)."""
    due = list(
        Assessment.objects.filter(
            patient__in=patients_visible_to(user),
            status__in=Assessment.OPEN_STATUSES,
            due_at__lte=timezone.now(),
        )
        .select_related("patient")
        .order_by("due_at", "pk")[:limit]
    )
    if due:
        audit.record(
            action=audit.Action.READ,
            object_type="due_assessment_list",
            detail={"patient_ids": sorted({a.patient_id for a in due})},
        )
    return due


# --- one patient's measures ---------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """One instrument's completed totals for one patient, with change against the first (baseline) total."""

    instrument: Instrument
    points: list[Assessment] = field(default_factory=list)
    changes: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def baseline(self) -> Assessment:
        return self.points[0]

    @property
    def rows(self) -> list[tuple[Assessment, dict[str, Any] | None]]:
        return list(zip(self.points, self.changes, strict=True))

    @property
    def latest_change(self) -> dict[str, Any] | None:
        return self.changes[-1] if len(self.points) > 1 else None

    @property
    def reliability_note(self) -> str:
        reliable = (self.instrument.definition.get("change") or {}).get("reliable_change") or {}
        reliability = reliable.get("reliability") or {}
        threshold = reliable.get("fixed_threshold") or {}
        parts = []
        if reliability.get("value") is not None:
            parts.append(f"reliability {reliability['value']} ({reliability.get('source', 'source not recorded')})")
        if threshold.get("value") is not None:
            parts.append(f"fixed threshold {threshold['value']} points ({threshold.get('source', '')})")
        return "; ".join(parts)


def _change(instrument: Instrument, baseline: float, follow_up: float) -> dict[str, Any] | None:
    if not instrument.definition.get("change"):
        return None
    try:
        return classify_change(instrument.id, baseline, follow_up)
    except ScoringError:
        return None


def trajectories(assessments: list[Assessment]) -> list[Trajectory]:
    """Groups completed assessments (oldest first) by instrument; the first of each is the baseline."""
    by_instrument: dict[str, Trajectory] = {}
    for assessment in assessments:
        if assessment.total is None:
            continue
        trajectory = by_instrument.get(assessment.instrument_id)
        if trajectory is None:
            try:
                trajectory = by_instrument[assessment.instrument_id] = Trajectory(
                    get_instrument(assessment.instrument_id)
                )
            except ScoringError:
                continue
        trajectory.points.append(assessment)
    for trajectory in by_instrument.values():
        base = trajectory.baseline.total
        trajectory.changes = [None] + [_change(trajectory.instrument, base, p.total) for p in trajectory.points[1:]]
    return sorted(by_instrument.values(), key=lambda t: t.instrument.short_name)


def completed_assessments(patient: Patient) -> list[Assessment]:
    return list(
        Assessment.objects.filter(patient=patient, status=Assessment.Status.COMPLETED)
        .select_related("entered_by")
        .order_by("completed_at", "pk")
    )


def patient_measures(*, patient: Patient) -> dict[str, Any]:
    """Everything the clinician's measures page shows. The caller has passed patient_get (care team, audit)."""
    completed = completed_assessments(patient)
    open_ = list(
        Assessment.objects.filter(patient=patient, status__in=Assessment.OPEN_STATUSES).order_by("due_at", "pk")
    )
    alerts = list(CriticalAlert.objects.filter(patient=patient).select_related("acknowledged_by", "assessment"))
    return {
        "trajectories": trajectories(completed),
        "completed": completed,
        "open_assessments": open_,
        "alerts": alerts,
    }


# --- the patient's own view ---------------------------------------------------------------------------------


def portal_due(*, patient: Patient) -> list[Assessment]:
    """The patient's open questionnaires that are due now (the portal home list)."""
    now = timezone.now()
    return list(
        Assessment.objects.filter(patient=patient, status__in=Assessment.OPEN_STATUSES, due_at__lte=now)
        .exclude(expires_at__lte=now)
        .order_by("due_at", "pk")
    )


def _assessment_of(patient: Patient, assessment_id) -> Assessment:
    try:
        return Assessment.objects.get(pk=int(assessment_id), patient=patient)
    except (Assessment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such questionnaire.") from None


def portal_assessment(*, patient: Patient, assessment_id) -> Assessment:
    """One of the patient's own questionnaires, with the answers saved so far; the read is audited."""
    assessment = _assessment_of(patient, assessment_id)
    audit.record(action=audit.Action.READ, patient=patient, object_type="assessment", object_id=assessment.pk)
    return assessment


def staff_assessment(*, patient: Patient, assessment_id) -> Assessment:
    """An assessment of a patient the caller already reached through patient_get (which audited the read)."""
    return _assessment_of(patient, assessment_id)


def portal_history(*, patient: Patient) -> list[Trajectory]:
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_history", object_id=patient.pk)
    return trajectories(completed_assessments(patient))
