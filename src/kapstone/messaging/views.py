"""Secure messages: the patient's inbox in the portal, a patient's conversations on the staff side, and the
staff's unread overview. A patient's message that mentions a crisis is answered at once with the crisis
resources."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.measures.portal_settings import crisis_resources
from kapstone.messaging import selectors, services
from kapstone.messaging.forms import ChangeRequestForm, DecisionForm, MessageForm, NewThreadForm
from kapstone.patients.selectors import patient_for_portal_user
from kapstone.program.selectors import sessions_for_patient


def _write(form, send):
    """Runs `send(data)` for a valid form; returns the message, or None with the refusal on the form."""
    if not form.is_valid():
        return None
    try:
        return send(form.cleaned_data)
    except services.MessageRefused as refusal:
        form.add_error(None, str(refusal))
        return None


def _after_patient_message(request, message):
    if message.mentions_crisis:
        context = {"resources": crisis_resources(), "thread": message.thread, "sent": "Your message is sent"}
        return render(request, "messaging/crisis.html", context)
    messages.success(request, "Sent. Your care team will reply here; this inbox is not watched around the clock.")
    return redirect("messaging:my_thread", thread_id=message.thread_id)


@roles_required(Role.PATIENT)
def my_threads(request):
    patient, threads = selectors.portal_threads(user=request.user)
    form = NewThreadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        message = _write(
            form,
            lambda data: services.thread_start(
                actor=request.user,
                patient=patient,
                subject=data["subject"],
                body=data["body"],
                attachment=data["attachment"],
            ),
        )
        if message is not None:
            return _after_patient_message(request, message)
    context = {"threads": threads, "form": form}
    return render(request, "messaging/my_threads.html", context, status=400 if form.errors else 200)


@roles_required(Role.PATIENT)
def my_thread(request, thread_id):
    thread = selectors.portal_thread(user=request.user, thread_id=thread_id)
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        message = _write(
            form,
            lambda data: services.message_send(
                actor=request.user, thread=thread, body=data["body"], attachment=data["attachment"]
            ),
        )
        if message is not None:
            return _after_patient_message(request, message)
    else:
        services.thread_mark_read(user=request.user, thread=thread)
    context = {"thread": thread, "form": form, "own": True}
    return render(request, "messaging/thread.html", context, status=400 if form.errors else 200)


@roles_required(*RECORD_ROLES)
def patient_threads(request, patient_id):
    patient, threads = selectors.staff_threads(user=request.user, patient_id=patient_id)
    form = NewThreadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        message = _write(
            form,
            lambda data: services.thread_start(
                actor=request.user,
                patient=patient,
                subject=data["subject"],
                body=data["body"],
                attachment=data["attachment"],
            ),
        )
        if message is not None:
            messages.success(request, f"Sent to {patient.full_name}.")
            return redirect("messaging:thread", patient_id=patient.pk, thread_id=message.thread_id)
    context = {"patient": patient, "threads": threads, "form": form}
    return render(request, "messaging/patient_threads.html", context, status=400 if form.errors else 200)


@roles_required(*RECORD_ROLES)
def thread(request, patient_id, thread_id):
    conversation = selectors.staff_thread(user=request.user, patient_id=patient_id, thread_id=thread_id)
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        message = _write(
            form,
            lambda data: services.message_send(
                actor=request.user, thread=conversation, body=data["body"], attachment=data["attachment"]
            ),
        )
        if message is not None:
            messages.success(request, "Sent. The patient is told there is a message, never what it says.")
            return redirect("messaging:thread", patient_id=conversation.patient_id, thread_id=conversation.pk)
    else:
        services.thread_mark_read(user=request.user, thread=conversation)
    context = {"thread": conversation, "form": form, "own": False}
    return render(request, "messaging/thread.html", context, status=400 if form.errors else 200)


@roles_required(*RECORD_ROLES)
def inbox(request):
    return render(request, "messaging/inbox.html", selectors.unread_overview(user=request.user))


@roles_required(Role.PATIENT, *RECORD_ROLES)
@never_cache
def attachment(request, message_id):
    message = selectors.attachment(user=request.user, message_id=message_id)
    response = FileResponse(message.attachment.open("rb"), content_type=message.attachment_content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-store"
    return response


@roles_required(Role.PATIENT)
@require_POST
def request_change(request, session_id):
    patient = patient_for_portal_user(request.user)
    session = next((s for s in sessions_for_patient(patient=patient) if s.pk == session_id), None)
    if session is None:
        raise Http404("No such session.")
    form = ChangeRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to move the session or to miss it.")
        return redirect("portal:home")
    try:
        change = services.session_change_request(
            actor=request.user, session=session, kind=form.cleaned_data["kind"], note=form.cleaned_data["note"]
        )
    except services.MessageRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if change.mentions_crisis:
            # Answered at once with the crisis lines, as a message is: a request waits for the team's next look.
            context = {"resources": crisis_resources(), "thread": None, "sent": "Your request is sent"}
            return render(request, "messaging/crisis.html", context)
        messages.success(request, "Your request is with your care team. Nothing changes until they answer.")
    return redirect("portal:home")


@roles_required(*RECORD_ROLES)
@require_POST
def request_decide(request, request_id):
    change = selectors.change_request(user=request.user, request_id=request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to accept or decline the request.")
        return redirect("messaging:inbox")
    try:
        services.session_change_decide(
            actor=request.user,
            request=change,
            accept=form.cleaned_data["decision"] == "accept",
            note=form.cleaned_data["note"],
        )
    except services.MessageRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request, "Answered. If you accepted, move the session (or note the absence) in the group's schedule."
        )
    return redirect("messaging:inbox")
