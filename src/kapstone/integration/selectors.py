"""Reads for integration, through the care-team filter and the audit trail.

Who sees what:
- a patient sees only their own journal, windows and timeline (patient_for_portal_user);
- journal entries reach staff only once the patient shares them, and then only clinicians on the patient's care
  team (not admins, researchers or other clinicians: "shared with the care team" means exactly that);
- integration notes are part of the record: everyone who may open the record sees them;
- psychotherapy notes are read only by the therapist who wrote them, while on the care team.
"""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.core.paginator import Page
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

if TYPE_CHECKING:
    # Only for the annotations windows_with_work adds: the package is a development dependency.
    from django_stubs_ext import WithAnnotations

from kapstone.accounts.models import DISPLAY_NAME_FIELDS, User
from kapstone.accounts.roles import Role
from kapstone.audit import services as audit
from kapstone.built_once import built_once_per_user
from kapstone.compiled_once import compiled_once
from kapstone.dosing.models import DoseRecord, Route
from kapstone.integration import crypto
from kapstone.integration.models import (
    IntegrationNote,
    IntegrationWindow,
    JournalEntry,
    Notification,
    NotificationPreference,
    PsychotherapyNote,
)
from kapstone.integration.window import (
    Adherence,
    WindowBounds,
    adherence_of,
    after_quiet_hours,
    window_bounds,
    window_settings,
)
from kapstone.measures.scoring import UnknownInstrument, get_instrument
from kapstone.measures.selectors import completed_totals
from kapstone.paging import compiled_page
from kapstone.patients.models import CareTeamMembership, Patient, membership_in_force
from kapstone.patients.selectors import patient_for_portal_user, patient_get, patients_visible_to
from kapstone.practice.settings_store import practice_overrides
from kapstone.program.models import Enrolment, GroupSession
from kapstone.program.patient_words import PATIENT_SESSION_WORDS

# Any: setting name -> its value, each of the type its entry in data/window.yaml gives.
WindowSettings = dict[str, Any]

JOURNAL_PER_PAGE = 50
JOURNAL_CARD_COLUMNS = ("created_at", "prompt", "shared_with_care_team", "text", "mood", "activity", "activity_minutes")
# 200 rows took most of a worker for each view of the page under load (issue 19); 50 fill a screen or two.
ADHERENCE_PER_PAGE = 50
# The columns the adherence page reads of each window and its patient (and two of the group whose dosing session
# opened it: see _adherence_windows).
ADHERENCE_COLUMNS = ("patient__given_name", "patient__family_name", "dosed_at")


def practice_window_settings() -> WindowSettings:
    return window_settings(practice_overrides("integration"))


def notified_patient_ids(*, dedupe_prefix: str) -> set[int]:
    """The patients who already have a message queued or sent under this dedupe key prefix."""
    return set(Notification.objects.filter(dedupe_key__startswith=dedupe_prefix).values_list("patient_id", flat=True))


def on_care_team(user: User, patient: Patient) -> bool:
    return user.is_clinician and bool(_care_team_membership(patient_id=patient.pk, staff_id=user.pk))


@compiled_once(patient_id=int, staff_id=int)
def _care_team_membership(*, patient_id: int, staff_id: int) -> QuerySet[CareTeamMembership, int]:
    # Compiled once (kapstone.compiled_once): every staff view of a patient's timeline, journal image and notes asks.
    return CareTeamMembership.objects.filter(
        membership_in_force(), patient_id=patient_id, staff_id=staff_id
    ).values_list("pk", flat=True)[:1]


@dataclass(frozen=True)
class WindowStatus:
    window: IntegrationWindow
    bounds: WindowBounds
    done_at: datetime.datetime | None
    booked_at: datetime.datetime | None
    adherence: str
    undelivered: bool

    @property
    def booking_in_window(self) -> bool:
        return self.booked_at is not None and self.booked_at <= self.bounds.outer_end


class WindowWork(TypedDict):
    """What windows_with_work adds to each window."""

    first_entry_at: datetime.datetime | None
    first_note_at: datetime.datetime | None
    booked_at: datetime.datetime | None
    undelivered: bool


def windows_with_work(
    windows: QuerySet[IntegrationWindow],
) -> "QuerySet[WithAnnotations[IntegrationWindow, WindowWork]]":
    """Adds, in the same query, what integration work happened and whether an integration session is booked.

    Integration work is the first of: a journal entry the patient wrote after the dose, or an integration note
    a clinician recorded for the patient at an integration session following that dosing session (the note is
    the record that the patient attended; the session's start is when the work happened). `undelivered` says
    whether a prompt of the window could not be delivered: work not done may be a message never received.
    """
    first_entry = (
        JournalEntry.objects.filter(patient=OuterRef("patient"), created_at__gte=OuterRef("dosed_at"))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    first_session_note = (
        IntegrationNote.objects.filter(
            patient=OuterRef("patient"),
            session__follows_dosing=OuterRef("dosing_session"),
            session__kind=GroupSession.Kind.INTEGRATION,
        )
        .order_by("session__starts_at")
        .values("session__starts_at")[:1]
    )
    booked = (
        GroupSession.objects.filter(follows_dosing=OuterRef("dosing_session"), kind=GroupSession.Kind.INTEGRATION)
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    undelivered = Notification.objects.filter(window=OuterRef("pk"), status=Notification.Status.FAILED)
    return windows.annotate(
        first_entry_at=Subquery(first_entry),
        first_note_at=Subquery(first_session_note),
        booked_at=Subquery(booked),
        undelivered=Exists(undelivered),
    )


def _status(
    window: "WithAnnotations[IntegrationWindow, WindowWork]", settings: WindowSettings, now: datetime.datetime
) -> WindowStatus:
    done = [at for at in (window.first_entry_at, window.first_note_at) if at is not None]
    done_at = min(done) if done else None
    bounds = window_bounds(window.dosed_at, settings)
    return WindowStatus(
        window=window,
        bounds=bounds,
        done_at=done_at,
        booked_at=window.booked_at,
        adherence=adherence_of(bounds, done_at, now),
        undelivered=window.undelivered,
    )


def window_status(window: IntegrationWindow, *, now: datetime.datetime | None = None) -> WindowStatus:
    annotated = windows_with_work(IntegrationWindow.objects.filter(pk=window.pk)).get()
    return _status(annotated, practice_window_settings(), now or timezone.now())


def open_window_for(
    patient: Patient, *, now: datetime.datetime, settings: WindowSettings | None = None
) -> IntegrationWindow | None:
    """The patient's most recent window whose outer bound has not passed, by the practice's window `settings`
    (read here unless the caller has read them)."""
    settings = settings or practice_window_settings()
    since = now - datetime.timedelta(hours=settings["outer_hours"])
    latest = _latest_window(patient_id=patient.pk, since=since, now=now)
    return latest[0] if latest else None


@compiled_once(patient_id=int, since=datetime.datetime, now=datetime.datetime)
def _latest_window(*, patient_id: int, since: datetime.datetime, now: datetime.datetime) -> QuerySet[IntegrationWindow]:
    # Compiled once: the portal's home and journal read it on every view (issue 19). The newest first, as first()
    # took it in the model's order.
    return IntegrationWindow.objects.filter(patient_id=patient_id, dosed_at__gte=since, dosed_at__lte=now)[:1]


@dataclass
class GroupAdherence:
    """The windows on a page that one group's dosing sessions opened."""

    group_id: int
    name: str
    rows: list[WindowStatus]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(Adherence.LABELS, 0)
        for row in self.rows:
            counts[row.adherence] += 1
        return counts


@dataclass
class AdherenceOverview:
    """One page of windows, newest first, grouped; page.paginator.count is how many the user may see in all.
    `window` is the practice's window settings the page was judged by."""

    groups: list[GroupAdherence]
    page: "Page[WithAnnotations[IntegrationWindow, AdherenceWindowWork]]"
    window: WindowSettings


class AdherenceWindowWork(WindowWork):
    """What _adherence_windows adds to each window besides its work: the group whose dosing session opened it."""

    group_id: int
    group_name: str


def _windows_visible_to(user: User) -> QuerySet[IntegrationWindow]:
    return IntegrationWindow.objects.filter(patient__in=patients_visible_to(user))


@compiled_once()
def _windows_counted(user: User) -> QuerySet[IntegrationWindow]:
    """The windows the adherence page counts, without the joins its rows make, compiled once for each user
    (kapstone.compiled_once)."""
    return _windows_visible_to(user)


@built_once_per_user
def _adherence_windows(user: User) -> "QuerySet[WithAnnotations[IntegrationWindow, AdherenceWindowWork]]":
    """adherence_overview's windows, built once for each user (kapstone.built_once): resolving the care-team test
    and the four subqueries of windows_with_work took longer than the rest of reading a page of them (issue 19)."""
    windows = (
        _windows_visible_to(user)
        .select_related("patient")
        # Only what the page shows: the whole record, session and group of every row were read and built for a
        # name and a group's name (issue 19).
        .only(*ADHERENCE_COLUMNS)
        .order_by("-dosed_at", "-pk")
    )
    # The group as two values of the row: a session and a group made for each of fifty rows took longer than
    # reading them.
    return windows_with_work(windows).annotate(
        group_id=F("dosing_session__group_id"), group_name=F("dosing_session__group__name")
    )


@compiled_once()
def _adherence_listed(
    user: User, start: int | None = None, end: int | None = None
) -> "QuerySet[WithAnnotations[IntegrationWindow, AdherenceWindowWork]]":
    """A page of _adherence_windows, compiled once for each user and page (kapstone.compiled_once): its four
    subqueries took longer to compile than to run (issue 19)."""
    return _adherence_windows(user)[start:end]


def adherence_overview(
    *, user: User, now: datetime.datetime | None = None, page_number: int | str = 1
) -> AdherenceOverview:
    """The visible windows, newest first, one page at a time, grouped by the group whose dosing session opened
    them. An unreadable page number gives the first page; a number past the end gives the last."""
    settings = practice_window_settings()
    now = now or timezone.now()
    shown: list[WithAnnotations[IntegrationWindow, AdherenceWindowWork]]
    page, shown = compiled_page(
        _adherence_listed, user, per_page=ADHERENCE_PER_PAGE, page_number=page_number, counted_by=_windows_counted
    )
    groups: dict[int, GroupAdherence] = {}
    for window in shown:
        group = groups.setdefault(window.group_id, GroupAdherence(window.group_id, window.group_name, rows=[]))
        group.rows.append(_status(window, settings, now))
    audit.record(
        action=audit.Action.READ,
        object_type="integration_adherence",
        detail={
            "page": page.number,
            "patient_ids": sorted({row.window.patient_id for g in groups.values() for row in g.rows}),
        },
    )
    return AdherenceOverview(groups=list(groups.values()), page=page, window=settings)


def journal_entries(*, user: User, query: str = "") -> tuple[Patient, list[JournalEntry]]:
    """The patient's own entries, optionally searched (words must all appear in the text)."""
    patient = patient_for_portal_user(user)
    query = query.strip()
    words = query.split()[:6]
    if words:
        entries = _journal_cards(patient.pk)
        for word in words:
            entries = entries.filter(text__icontains=word)
        shown = list(entries[:JOURNAL_PER_PAGE])
    else:
        shown = _latest_journal_cards(patient_id=patient.pk)
    audit.record(
        action=audit.Action.READ,
        patient=patient,
        object_type="journal",
        detail={"searched": bool(query), "entry_ids": [entry.pk for entry in shown]},
    )
    return patient, shown


def _journal_cards(patient_id: int) -> QuerySet[JournalEntry]:
    # The columns a card draws (integration_tags.journal_cards), not the window, picture and edit times.
    return JournalEntry.objects.filter(patient_id=patient_id).only(*JOURNAL_CARD_COLUMNS)


@compiled_once(patient_id=int)
def _latest_journal_cards(*, patient_id: int) -> QuerySet[JournalEntry]:
    # Compiled once: the journal reads it on every view unsearched (issue 19). A search's words are not
    # placeholders a compiled read can take (icontains rewrites them).
    return _journal_cards(patient_id)[:JOURNAL_PER_PAGE]


def journal_entry_for_owner(*, user: User, entry_id: int | str) -> JournalEntry:
    patient = patient_for_portal_user(user)
    try:
        entry = JournalEntry.objects.select_related("patient").get(pk=int(entry_id), patient=patient)
    except (JournalEntry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such journal entry.") from None
    audit.record(action=audit.Action.READ, patient=patient, object_type="journal_entry", object_id=entry.pk)
    return entry


def journal_export(*, user: User) -> tuple[Patient, list[JournalEntry]]:
    """Everything the patient wrote, for their own download. Nothing written by staff is in it."""
    patient = patient_for_portal_user(user)
    entries = list(JournalEntry.objects.filter(patient=patient).order_by("created_at", "id"))
    audit.record(action=audit.Action.EXPORT, patient=patient, object_type="journal", detail={"entries": len(entries)})
    return patient, entries


def journal_image(*, user: User, entry_id: int | str) -> JournalEntry:
    """The entry behind an image, for its owner, or for their care team once it is shared; else 404. Its owner's
    record must be open, as for every other page of her portal (patient_for_portal_user)."""
    try:
        entry = JournalEntry.objects.select_related("patient").exclude(image="").get(pk=int(entry_id))
    except (JournalEntry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such image.") from None
    own = user.role == Role.PATIENT and entry.patient_id == patient_for_portal_user(user).pk
    shared = entry.shared_with_care_team and on_care_team(user, entry.patient)
    if not (own or shared):
        raise Http404("No such image.")
    audit.record(action=audit.Action.READ, patient=entry.patient, object_type="journal_image", object_id=entry.pk)
    return entry


@dataclass(frozen=True)
class TimelineItem:
    at: datetime.datetime
    kind: str
    title: str
    detail: str = ""
    entry: JournalEntry | None = None


CHANNEL_LABELS = {"email": "email", "sms": "text message"}


_HELD = Q(group__enrolments__status__in=[Enrolment.Status.ENROLLED, Enrolment.Status.COMPLETED])
# What a timeline item says of a session.
_SESSION_ITEM_COLUMNS = ("starts_at", "kind", "is_remote", "room__name")


@compiled_once(patient_id=int)
def _held_sessions(*, patient_id: int) -> QuerySet[GroupSession]:
    """_sessions_read's without the bookable ones, compiled once (kapstone.compiled_once), as the timeline's other
    reads are: compiling them took longer than running them (issue 19)."""
    return (
        GroupSession.objects.select_related("room")
        .filter(_HELD, group__enrolments__patient_id=patient_id)
        .only(*_SESSION_ITEM_COLUMNS)
    )


@compiled_once(patient_id=int)
def _held_and_bookable_sessions(*, patient_id: int) -> QuerySet[GroupSession]:
    # One filter() call, so the enrolment the row joined is the one `held` tests in the annotation too.
    return (
        GroupSession.objects.select_related("room", "group")
        .filter(Q(group__enrolments__patient_id=patient_id) & (_HELD | Q(kind=GroupSession.Kind.INTEGRATION)))
        .annotate(held=ExpressionWrapper(_HELD, output_field=BooleanField()))
        .only(*_SESSION_ITEM_COLUMNS, "number", "group__name")
    )


def _sessions_read(patient: Patient, *, bookable: bool) -> tuple[list[GroupSession], list[GroupSession]]:
    """The sessions of the groups the patient is enrolled in or completed (the timeline's) and, if `bookable`, the
    integration sessions an integration note may be linked to (integration_sessions_for's: of any group the patient
    has an enrolment in). One read of both, where the note form read program_groupsession again (issue 19); a row
    per session and enrolment, as each read had. Only what an item and a choice say: the whole session, group and
    room were most of what the timeline read."""
    if not bookable:
        return _held_sessions(patient_id=patient.pk), []
    timeline: list[GroupSession] = []
    integration: list[GroupSession] = []
    for session in _held_and_bookable_sessions(patient_id=patient.pk):
        if session.held:  # type: ignore[attr-defined]  # annotated by the read
            timeline.append(session)
        if session.kind == GroupSession.Kind.INTEGRATION:
            integration.append(session)
    return timeline, integration


# The timeline's reads of a patient's records, compiled once (kapstone.compiled_once): compiling them took longer
# than running them (issue 19).


@compiled_once(patient_id=int)
def _doses_given(*, patient_id: int) -> QuerySet[DoseRecord]:
    # In the order the items are sorted by: the records' default order joined their sessions and patients.
    return (
        DoseRecord.objects.filter(patient_id=patient_id, administered_at__isnull=False)
        .only("administered_at", "dose_mg", "route")
        .order_by("administered_at", "pk")
    )


@compiled_once(patient_id=int)
def _journal_entries_drawn(shared_only: bool, *, patient_id: int) -> QuerySet[JournalEntry]:
    # The columns an item draws (integration_tags.timeline_items), not the prompt, window and edit times.
    entries = JournalEntry.objects.filter(patient_id=patient_id).only(
        "text", "mood", "activity", "activity_minutes", "image", "shared_with_care_team", "created_at"
    )
    return entries.filter(shared_with_care_team=True) if shared_only else entries


@compiled_once(patient_id=int)
def _integration_notes(*, patient_id: int) -> QuerySet[IntegrationNote]:
    # Of the author, only what their name (User.display_name) is made of: the whole login was read (issue 19).
    return (
        IntegrationNote.objects.filter(patient_id=patient_id)
        .select_related("author")
        .only("created_at", "text", *(f"author__{name}" for name in DISPLAY_NAME_FIELDS))
    )


@compiled_once(patient_id=int)
def _undelivered_messages(*, patient_id: int) -> QuerySet[Notification]:
    # Not a message's body, which the timeline never shows.
    return Notification.objects.filter(patient_id=patient_id, status=Notification.Status.FAILED).only(
        "subject", "channel", "attempts", "scheduled_for"
    )


def _route_words(route: str) -> str:
    return str(Route(route).label).lower() if route in Route.values else route


def _instrument_name(instrument_id: str) -> str:
    """A questionnaire as the rest of the product names it ("PHQ-9", "C-SSRS screener"), not its id ("PHQ9")."""
    try:
        return get_instrument(instrument_id).short_name
    except UnknownInstrument:
        return instrument_id.upper()


# A triage level's result on the patient's own timeline: said calmly, and only what follows from it (a level above
# the lowest raises an alert for the care team to review, measures.services), never the level itself.
PATIENT_RISK_WORDS = {
    "none": "No concerns in your answers",
    "raised": "Your care team is told about your answers and will go through them with you",
}


def _risk_words(instrument_id: str, risk: str, *, patient_view: bool) -> str:
    """A questionnaire scored as a triage level (the C-SSRS screener) as staff read it ("Moderate risk", as its alert
    and the scores page say it: Risk.in_words) or, on the patient's own timeline, in PATIENT_RISK_WORDS."""
    if patient_view:
        return patient_risk_words(instrument_id, risk)
    try:
        triage = get_instrument(instrument_id).risk
    except UnknownInstrument:
        triage = None
    return triage.in_words(risk) if triage is not None and risk in triage.levels else f"{risk.capitalize()} risk"


def patient_risk_words(instrument_id: str, risk: str) -> str:
    """A triage level's result as the patient reads it (their timeline, their questionnaire history):
    PATIENT_RISK_WORDS, never the level itself."""
    try:
        triage = get_instrument(instrument_id).risk
    except UnknownInstrument:
        triage = None
    lowest = triage.levels[0] if triage is not None else "none"
    return PATIENT_RISK_WORDS["none" if risk == lowest else "raised"]


def _timeline_items(
    patient: Patient,
    sessions: list[GroupSession],
    *,
    journal: str,
    notes: bool,
    undelivered: bool = False,
    patient_view: bool = False,
) -> list[TimelineItem]:
    """sessions: as _sessions_read gives them for the timeline. journal: 'all' (the patient's own view), 'shared'
    (their care team) or 'none'. undelivered: the messages that could not be delivered, for staff, who can check the
    patient's address. The patient's own view names sessions as the rest of the portal does ("Ketamine session")."""
    items: list[TimelineItem] = []
    for session in sessions:
        where = " · by video" if session.is_remote else (f" · {session.room}" if session.room else "")
        title = PATIENT_SESSION_WORDS[session.kind] if patient_view else f"{session.get_kind_display()} session"
        items.append(TimelineItem(session.starts_at, "session", title, where))
    for dose in _doses_given(patient_id=patient.pk):
        if dose.administered_at is None:  # never: the query asks for given doses
            continue
        # "150 mg, sublingual lozenge": not the stored decimal ("150.0") and the route's code ("sublingual").
        mg = f"{dose.dose_mg.normalize():f}" if dose.dose_mg is not None else "—"
        items.append(TimelineItem(dose.administered_at, "dose", "Dose given", f"{mg} mg, {_route_words(dose.route)}"))
    for completed_at, instrument_id, total, severity_label, risk in completed_totals(patient):
        if completed_at is None:  # never: a completed questionnaire has its time
            continue
        severity = f" ({severity_label})" if severity_label else ""
        if total is not None:
            score = f"{total:g}{severity}"
        elif risk:  # the C-SSRS screener: no total, its result is the triage level
            score = _risk_words(instrument_id, risk, patient_view=patient_view)
        else:
            score = ""
        items.append(TimelineItem(completed_at, "score", _instrument_name(instrument_id), score))
    if journal != "none":
        for entry in _journal_entries_drawn(journal == "shared", patient_id=patient.pk):
            title = "Creative activity" if entry.activity else "Journal entry"
            items.append(TimelineItem(entry.created_at, "creative" if entry.activity else "journal", title, "", entry))
    if notes:
        for note in _integration_notes(patient_id=patient.pk):
            items.append(TimelineItem(note.created_at, "note", f"Integration note by {note.author}", note.text))
    if undelivered:
        # A failed message's schedule is left at its last attempt.
        for message in _undelivered_messages(patient_id=patient.pk):
            channel = CHANNEL_LABELS.get(message.channel, message.channel)
            detail = f"{message.subject} · by {channel}, {message.attempts} attempts"
            items.append(TimelineItem(message.scheduled_for, "undelivered", "Message could not be delivered", detail))
    # Newest first, as a clinician reads a record and a patient their history (upcoming_and_past splits off what is
    # still to come).
    return sorted(items, key=lambda item: item.at, reverse=True)


def upcoming_and_past(
    items: list[TimelineItem], *, now: datetime.datetime
) -> tuple[list[TimelineItem], list[TimelineItem]]:
    """A timeline's `items` (newest first) as what is still to come, the soonest first, and what has happened,
    the newest first: the course's booked sessions ahead of today's dose read upside down above it."""
    upcoming = [item for item in items if item.at > now]
    return upcoming[::-1], items[len(upcoming) :]


@dataclass(frozen=True)
class StaffTimeline:
    patient: Patient
    items: list[TimelineItem]
    care_team: bool
    # The sessions an integration note may be linked to (integration_sessions_for's), read with the timeline's for
    # a clinician, who is shown the note form; empty for anyone else.
    bookable: list[GroupSession]


def staff_timeline(*, user: User, patient_id: int | str) -> StaffTimeline:
    patient = patient_get(user=user, patient_id=patient_id, purpose="integration timeline")
    # patient_get lets a clinician open only the patients on their care team (patients_visible_to), so a clinician
    # here is on it: asking the care team again was a statement on every view (issue 19).
    care_team = user.is_clinician
    sessions, bookable = _sessions_read(patient, bookable=user.is_clinician)
    journal = "shared" if care_team else "none"
    items = _timeline_items(patient, sessions, journal=journal, notes=True, undelivered=True)
    audit.record(
        action=audit.Action.READ,
        patient=patient,
        object_type="journal",
        detail={"shared_entry_ids": [item.entry.pk for item in items if item.entry is not None]},
    )
    return StaffTimeline(patient, items, care_team, bookable)


def portal_timeline(*, user: User) -> tuple[Patient, list[TimelineItem]]:
    patient = patient_for_portal_user(user)
    audit.record(action=audit.Action.READ, patient=patient, object_type="portal_timeline", object_id=patient.pk)
    sessions, _ = _sessions_read(patient, bookable=False)
    return patient, _timeline_items(patient, sessions, journal="all", notes=False, patient_view=True)


def integration_sessions_for(patient: Patient) -> QuerySet[GroupSession]:
    """What a note's session is checked against. _sessions_read reads the same sessions for the staff timeline's
    form: a change to this rule is a change to that one."""
    return GroupSession.objects.filter(
        kind=GroupSession.Kind.INTEGRATION, group__enrolments__patient=patient
    ).select_related("group")


def _note_text(note: PsychotherapyNote) -> str | None:
    try:
        return crypto.decrypt(note.ciphertext)
    except (crypto.UnreadableNote, crypto.NotesKeyError):
        return None


def psychotherapy_notes(
    *, user: User, patient_id: int | str
) -> tuple[Patient, list[tuple[PsychotherapyNote, str | None]]]:
    """The therapist's own notes on a patient on their care team, decrypted, with every read audited. A note no
    configured key opens comes with None, so the page says so instead of failing (crypto explains the keys)."""
    patient = patient_get(user=user, patient_id=patient_id, purpose="psychotherapy notes")
    if user.role != Role.THERAPIST or not on_care_team(user, patient):
        raise Http404("No such patient.")
    notes = list(PsychotherapyNote.objects.filter(patient=patient, author=user))
    audit.record(
        action=audit.Action.READ,
        patient=patient,
        object_type="psychotherapy_note",
        detail={"note_ids": [note.pk for note in notes]},
    )
    return patient, [(note, _note_text(note)) for note in notes]


def upcoming_prompt(*, patient: Patient) -> WindowStatus | None:
    """The open window the portal invites the patient to journal in, if any."""
    window = open_window_for(patient, now=timezone.now())
    if window is None:
        return None
    return window_status(window)


def notification_preference_of(patient: Patient) -> NotificationPreference:
    """The patient's chosen channels and quiet hours, or the defaults if they never chose."""
    try:
        preference: NotificationPreference = patient.notification_preference
        return preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(patient=patient)


def may_message_now(*, patient: Patient, channel: str, now: datetime.datetime) -> bool:
    """Whether a message on this channel may go to the patient now: they chose the channel and it is not
    within their quiet hours. Senders that cannot be deferred (questionnaire links) wait for the next sweep."""
    preference = notification_preference_of(patient)
    if channel not in preference.channels:
        return False
    quiet_end = after_quiet_hours(
        now, time_zone=preference.time_zone, start=preference.quiet_start, end=preference.quiet_end
    )
    return quiet_end <= now


# Operational: an upload is stored just before its row is saved (practice.storage.removed_if_not_saved); a file
# still without a row an hour later was left by a crash between the two, never by a save under way.
ORPHAN_UPLOAD_GRACE = datetime.timedelta(hours=1)
JOURNAL_IMAGE_FOLDER = "journal"


@dataclass(frozen=True)
class UploadsCheck:
    missing: list[int]  # journal entries whose picture is not in storage
    orphans: list[str]  # files in storage that no entry names, older than the grace period


def journal_uploads_check(*, now: datetime.datetime | None = None) -> UploadsCheck:
    """Compares the journal pictures in storage with the rows that name them."""
    storage = JournalEntry._meta.get_field("image").storage
    now = now or timezone.now()
    named = dict(JournalEntry.objects.exclude(image="").values_list("image", "pk"))
    try:
        _, stored_names = storage.listdir(JOURNAL_IMAGE_FOLDER)
    except FileNotFoundError:
        stored_names = []
    stored = {f"{JOURNAL_IMAGE_FOLDER}/{name}" for name in stored_names}
    orphans = sorted(
        name for name in stored - named.keys() if storage.get_modified_time(name) <= now - ORPHAN_UPLOAD_GRACE
    )
    missing = sorted(pk for name, pk in named.items() if name not in stored)
    return UploadsCheck(missing=missing, orphans=orphans)
