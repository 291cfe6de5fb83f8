import csv
import io
import json
import logging

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import CLINICAL_ROLES, Role
from kapstone.integration import selectors, services
from kapstone.integration.forms import (
    IntegrationNoteForm,
    JournalEntryForm,
    NotificationPreferenceForm,
    PsychotherapyNoteForm,
    ShareForm,
)
from kapstone.integration.models import JournalEntry, NotificationPreference
from kapstone.measures.portal_settings import crisis_resources
from kapstone.patients.selectors import patient_for_portal_user, patient_get
from kapstone.spreadsheet import csv_cell

logger = logging.getLogger(__name__)

EXPORT_FIELDS = ["created_at", "prompt", "text", "mood", "activity", "activity_minutes", "shared_with_care_team"]


@roles_required(Role.PATIENT)
def journal(request):
    query = request.GET.get("q", "")[:200]
    patient, entries = selectors.journal_entries(user=request.user, query=query)
    prompt = selectors.upcoming_prompt(patient=patient)
    return render(request, "integration/journal.html", {"entries": entries, "query": query, "prompt": prompt})


@roles_required(Role.PATIENT)
def journal_new(request):
    patient = patient_for_portal_user(request.user)
    if request.method == "POST":
        form = JournalEntryForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.journal_entry_create(
                    actor=request.user,
                    patient=patient,
                    prompt=data["prompt"],
                    text=data["text"].strip(),
                    mood=data["mood"],
                    activity=data["activity"],
                    activity_minutes=data["activity_minutes"],
                    image=data["image"],
                    share=data["share"],
                )
            except services.IntegrationError as refusal:
                form.add_error(None, str(refusal))
            else:
                shared = " and shared it with your care team. " + _not_straight_away() if data["share"] else "."
                messages.success(request, f"Saved your entry{shared}")
                return redirect("integration:journal")
        return render(request, "integration/journal_form.html", _journal_form_context(form), status=400)
    initial = {"prompt": request.GET.get("prompt")} if request.GET.get("prompt") in JournalEntry.Prompt.values else {}
    return render(request, "integration/journal_form.html", _journal_form_context(JournalEntryForm(initial=initial)))


def _not_straight_away() -> str:
    """Sharing pages no one: an entry that says the patient is not safe raises a review alert (services._screen_shared),
    seen when someone next opens the queue or the record. The patient is told so where they write and when they share,
    with the practice's crisis lines (as on a questionnaire)."""
    lines = "; ".join(f"{line['label']} {line['contact']}" for line in crisis_resources())
    return (
        "Your care team sees shared entries when they next open your record, not straight away. If you are "
        f"thinking of harming yourself, do not wait: {lines}."
    )


def _journal_form_context(form) -> dict:
    return {"form": form, "resources": crisis_resources()}


@roles_required(Role.PATIENT)
def journal_entry(request, entry_id):
    entry = selectors.journal_entry_for_owner(user=request.user, entry_id=entry_id)
    return render(request, "integration/journal_entry.html", {"entry": entry})


@roles_required(Role.PATIENT)
@require_POST
def journal_share(request, entry_id):
    entry = selectors.journal_entry_for_owner(user=request.user, entry_id=entry_id)
    form = ShareForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Bad request.", status=400)
    services.journal_entry_share(actor=request.user, entry=entry, shared=form.cleaned_data["shared"])
    if form.cleaned_data["shared"]:
        messages.success(request, "Your care team can now read this entry. " + _not_straight_away())
    else:
        messages.success(request, "This entry is private again.")
    return redirect("integration:journal_entry", entry_id=entry.pk)


@roles_required(Role.PATIENT)
@never_cache
def journal_export(request):
    patient, entries = selectors.journal_export(user=request.user)
    rows = [
        {
            name: (getattr(entry, name).isoformat() if name == "created_at" else getattr(entry, name))
            for name in EXPORT_FIELDS
        }
        for entry in entries
    ]
    if request.GET.get("format") == "json":
        response = HttpResponse(json.dumps({"journal": rows}, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="my-journal.json"'
        return response
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-journal.csv"'
    return response


@roles_required(Role.PATIENT, *CLINICAL_ROLES)
@never_cache
def journal_image(request, entry_id):
    entry = selectors.journal_image(user=request.user, entry_id=entry_id)
    try:
        stored = entry.image.open("rb")
    except OSError:
        # The row is there but its file is not (lost storage, a restore without media): the page that links it
        # still works, and the problem is logged and listed by `kapstone check_uploads` for staff to act on.
        logger.error("journal entry %s: its picture %s is missing from storage", entry.pk, entry.image.name)
        raise Http404("This picture is missing.") from None
    response = FileResponse(stored, content_type=entry.image_content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    return response


@roles_required(Role.PATIENT)
def my_timeline(request):
    patient, items = selectors.portal_timeline(user=request.user)
    upcoming, past = selectors.upcoming_and_past(items, now=timezone.now())
    context = {"patient": patient, "upcoming": upcoming, "items": past, "own": True}
    return render(request, "integration/timeline.html", context)


@roles_required(Role.PATIENT)
def preferences(request):
    patient = patient_for_portal_user(request.user)
    current = selectors.notification_preference_of(patient)
    if request.method == "POST":
        form = NotificationPreferenceForm(request.POST, instance=NotificationPreference(patient=patient))
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            services.notification_preference_set(actor=request.user, patient=patient, fields=fields)
            messages.success(request, "Saved how we contact you.")
            return redirect("integration:preferences")
        return render(request, "integration/preferences.html", {"form": form}, status=400)
    return render(request, "integration/preferences.html", {"form": NotificationPreferenceForm(instance=current)})


@roles_required(Role.ADMIN, *CLINICAL_ROLES)
def adherence(request):
    overview = selectors.adherence_overview(user=request.user, page_number=request.GET.get("page", 1))
    context = {"groups": overview.groups, "page": overview.page, "window": overview.window}
    return render(request, "integration/adherence.html", context)


def _timeline_page(request, patient_id, *, note_form=None, status=200):
    timeline = selectors.staff_timeline(user=request.user, patient_id=patient_id)
    patient = timeline.patient
    if note_form is None and request.user.is_clinician:
        sessions = selectors.integration_sessions_for(patient)
        note_form = IntegrationNoteForm(sessions=sessions, bookable=timeline.bookable)
    upcoming, past = selectors.upcoming_and_past(timeline.items, now=timezone.now())
    context = {
        "patient": patient,
        "upcoming": upcoming,
        "items": past,
        "own": False,
        "care_team": timeline.care_team,
        "note_form": note_form,
        # Drawn only where the form is shown (a session to link the note to), and then an empty form is drawn once
        # for every request that shows the same sessions (formrender.drawn_fields): the fields' templates were a
        # fifth of the page's drawing (issue 19).
        "note_fields": formrender.drawn_fields(note_form) if note_form is not None and note_form.bookable else "",
    }
    return render(request, "integration/timeline.html", context, status=status)


@roles_required(Role.ADMIN, *CLINICAL_ROLES)
def timeline(request, patient_id):
    return _timeline_page(request, patient_id)


@roles_required(*CLINICAL_ROLES)
@require_POST
def note_add(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="integration note")
    form = IntegrationNoteForm(request.POST, sessions=selectors.integration_sessions_for(patient))
    if form.is_valid():
        try:
            services.integration_note_add(
                actor=request.user,
                patient=patient,
                session=form.cleaned_data["session"],
                text=form.cleaned_data["text"],
            )
        except services.IntegrationError as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, "Integration note saved.")
            return redirect("integration:timeline", patient_id=patient.pk)
    return _timeline_page(request, patient.pk, note_form=form, status=400)


@roles_required(Role.THERAPIST)
@never_cache
def psychotherapy_notes(request, patient_id):
    patient, notes = selectors.psychotherapy_notes(user=request.user, patient_id=patient_id)
    form = PsychotherapyNoteForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.psychotherapy_note_add(actor=request.user, patient=patient, text=form.cleaned_data["text"])
            except services.IntegrationError as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, "Psychotherapy note saved.")
                return redirect("integration:psychotherapy_notes", patient_id=patient.pk)
        status = 400
    else:
        status = 200
    return render(
        request,
        "integration/psychotherapy_notes.html",
        {"patient": patient, "notes": notes, "form": form},
        status=status,
    )
