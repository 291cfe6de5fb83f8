"""Creativity pages: the patient's tasks (start, answer, resume within the time limit), their history, and
the clinician's view of a patient's scores beside their symptom totals. Views validate and call one service
or selector; the time limit is the server's, so the pages work without JavaScript."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.creativity import charts, page_rows, selectors, services
from kapstone.creativity.forms import AUTPartForm, DATForm, ScheduleForm
from kapstone.creativity.models import CreativityAdministration, Task
from kapstone.patients.selectors import patient_for_portal_user, patient_get
from kapstone.program.selectors import (
    HIDDEN_PATIENTS_REFUSAL,
    group_has_patient_hidden_from,
    group_holding_visible_patient,
)
from kapstone.untrusted import same_site_address

Status = CreativityAdministration.Status
SCHEDULERS = (Role.ADMIN, Role.PRESCRIBER)

# --- the patient's portal -----------------------------------------------------------------------------------


@roles_required(Role.PATIENT)
def my_tasks(request):
    patient = patient_for_portal_user(request.user)
    services.administrations_close_overdue(patient=patient)
    context = {
        "patient": patient,
        "tasks": selectors.portal_tasks(patient=patient),
        "blocked_until": selectors.dosing_block_until(patient=patient),
    }
    return render(request, "creativity/my_tasks.html", context)


def _answer_form(administration: CreativityAdministration, data=None, *, handing_in: bool = False):
    if administration.task == Task.AUT:
        return AUTPartForm(data, handing_in=handing_in)
    return DATForm(data, handing_in=handing_in)


def _task_page(request, administration, *, form=None, status=200, timer_handed_in=False):
    now = timezone.now()
    # The page's script hands a part in once when its time is up; a page answering that hand-in says so, and
    # the script will not try again (a refused hand-in sent over and over would lock the page in a loop).
    selectors.portal_task_shown(administration=administration)
    context = {"administration": administration, "form": form, "timer_handed_in": timer_handed_in}
    if administration.status == Status.DUE:
        until = selectors.dosing_block_until(patient=administration.patient, at=now)
        context.update(blocked_until=until, dosing_message=str(services.DosingDay(until)) if until else "")
        return render(request, "creativity/task_intro.html", context, status=status)
    clock = selectors.administration_clock(administration=administration, now=now)
    if form is None:
        if administration.task == Task.AUT:
            prompt = administration.prompts[clock.part]["prompt"]
            ideas = selectors.saved_ideas(administration, prompt) if clock.part == administration.part else []
            form = AUTPartForm(initial={"part": clock.part, "ideas": "\n".join(ideas)})
        else:
            words = administration.dat_words
            form = DATForm(initial={f"word_{n}": w for n, w in enumerate(words, start=1)})
    context.update(
        form=form,
        part=clock.part,
        prompt=administration.prompts[clock.part] if administration.task == Task.AUT else None,
        last_part=clock.part == administration.parts - 1,
        seconds_left=clock.seconds_left(now),
        part_deadline=clock.part_deadline,
    )
    return render(request, "creativity/task_form.html", context, status=status)


@roles_required(Role.PATIENT)
def my_task(request, administration_id):
    patient = patient_for_portal_user(request.user)
    administration = selectors.portal_administration(patient=patient, administration_id=administration_id)
    # A POST is saved first (answers in flight at the deadline still count); a late visit closes the task.
    if (
        request.method != "POST"
        and administration.status == Status.IN_PROGRESS
        and services.administration_close_if_over(actor=request.user, administration=administration)
    ):
        messages.info(request, "Time is up for this task. What you saved in time has been scored. Thank you.")
        return redirect("creativity:my_tasks")
    if not administration.is_open:
        messages.info(request, "This task is closed.")
        return redirect("creativity:my_tasks")
    if request.method != "POST":
        return _task_page(request, administration)
    action = request.POST.get("action", "")
    try:
        if action == "start":
            services.administration_start(actor=request.user, administration=administration)
            return redirect("creativity:my_task", administration_id=administration.pk)
        if administration.status != Status.IN_PROGRESS:
            messages.info(request, "Press Start to begin.")
            return redirect("creativity:my_task", administration_id=administration.pk)
        handing_in = action in ("next", "finish")
        form = _answer_form(administration, request.POST, handing_in=handing_in)
        if not form.is_valid():
            timer_handed_in = request.POST.get("handed_in_by") == "timer"
            return _task_page(request, administration, form=form, status=400, timer_handed_in=timer_handed_in)
        outcome = _save(request, administration, form, finish_part=handing_in)
    except services.CreativityError as error:
        messages.error(request, str(error))
        return redirect("creativity:my_tasks")
    for note in outcome.trimmed:
        messages.warning(request, note)
    if outcome.closed:
        messages.success(request, "Thank you: the task is finished and your answers are with your care team.")
        return redirect("creativity:my_tasks")
    if not outcome.saved:
        messages.warning(request, "The time for that part was over, so those answers could not be counted.")
    elif action == "save":
        messages.success(request, "Saved. You can come back to this task until its time runs out.")
    return redirect("creativity:my_task", administration_id=administration.pk)


def _save(request, administration, form, *, finish_part: bool):
    if administration.task == Task.AUT:
        return services.answers_save(
            actor=request.user,
            administration=administration,
            part=form.cleaned_data["part"],
            ideas=form.cleaned_data["ideas"],
            finish_part=finish_part,
        )
    return services.answers_save(
        actor=request.user, administration=administration, part=0, words=form.words, finish_part=finish_part
    )


@roles_required(Role.PATIENT)
@require_POST
def my_autosave(request, administration_id):
    """The page's script saves every half minute; it learns whether the answers counted and the time left."""
    patient = patient_for_portal_user(request.user)
    administration = selectors.portal_administration(patient=patient, administration_id=administration_id)
    form = _answer_form(administration, request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return JsonResponse({"saved": False, "error": errors}, status=400)
    try:
        outcome = _save(request, administration, form, finish_part=False)
    except services.CreativityError as error:
        return JsonResponse({"saved": False, "closed": True, "error": str(error)}, status=409)
    clock = selectors.administration_clock(administration=outcome.administration, now=timezone.now())
    return JsonResponse(
        {
            "saved": outcome.saved,
            "closed": outcome.closed,
            "part": clock.part,
            "seconds_left": clock.seconds_left(timezone.now()),
        }
    )


@roles_required(Role.PATIENT)
def my_history(request):
    patient = patient_for_portal_user(request.user)
    data = selectors.portal_history(patient=patient)
    context = {
        "patient": patient,
        **data,
        "charts": charts.history_charts(data["history"], data["symptoms"]),
        "has_scores": charts.has_scores(data["history"]),
    }
    return render(request, "creativity/my_history.html", context)


# --- staff --------------------------------------------------------------------------------------------------


@roles_required(*RECORD_ROLES)
def patient_creativity(request, patient_id, *, schedule_form=None, status=200):
    patient, data = selectors.patient_creativity(user=request.user, patient_id=patient_id)
    context = {
        "patient": patient,
        **data,
        "charts": charts.history_charts(data["history"], data["symptoms"]),
        "has_scores": charts.has_scores(data["history"]),
        "task_rows": page_rows.task_rows(patient.pk, data["administrations"]),
        "symptom_rows": page_rows.symptom_rows(data["symptoms"]),
        "schedule_form": schedule_form or ScheduleForm(),
    }
    return render(request, "creativity/patient.html", context, status=status)


@roles_required(*RECORD_ROLES)
def administration_detail(request, patient_id, administration_id):
    patient, administration, by_prompt = selectors.administration_for_staff(
        user=request.user, patient_id=patient_id, administration_id=administration_id
    )
    context = {"patient": patient, "administration": administration, "by_prompt": by_prompt}
    return render(request, "creativity/administration.html", context)


@roles_required(*RECORD_ROLES)
@require_POST
def schedule(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="schedule creativity tasks")
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return patient_creativity(request, patient_id, schedule_form=form, status=400)
    try:
        created = services.administrations_schedule(
            actor=request.user, patient=patient, occasion=form.cleaned_data["occasion"], tasks=form.task_list()
        )
    except services.CreativityError as error:
        messages.error(request, error.for_staff if isinstance(error, services.DosingDay) else str(error))
    else:
        messages.success(request, f"{len(created)} task(s) are now in {patient.given_name}'s portal.")
    return redirect("creativity:patient", patient_id=patient.pk)


@roles_required(*SCHEDULERS)
@require_POST
def schedule_group(request, group_id):
    group = group_holding_visible_patient(user=request.user, group_id=group_id)
    if group_has_patient_hidden_from(user=request.user, group=group):
        messages.error(request, HIDDEN_PATIENTS_REFUSAL)
        return redirect("program:group", group.pk)
    created = services.administrations_schedule_for_group(actor=request.user, group=group)
    messages.success(request, f"{created} creativity tasks scheduled for {group.name}, none on a dosing day.")
    return redirect(
        same_site_address(request, request.POST.get("next")) or reverse("program:group", kwargs={"group_id": group.pk})
    )
