"""Groups, their rosters and sessions, course planning, away dates and calendar feeds. Views validate input
and call one service or selector; access is decided by roles_required and the selectors' care-team filter."""

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapstone import formrender
from kapstone.accounts.permissions import public, roles_required
from kapstone.accounts.roles import RECORD_ROLES, Role
from kapstone.patients.selectors import patient_get
from kapstone.program import forms, planning, scheduling, selectors, services, telehealth
from kapstone.program.models import Enrolment, GroupSession

PLAN_SALT = "kapstone.program.plan"
PLAN_MAX_AGE_SECONDS = 60 * 60
CALENDAR_ROLES = (*RECORD_ROLES, Role.PATIENT)


@roles_required(*RECORD_ROLES)
def group_list(request):
    listed = selectors.group_list(user=request.user, page_number=request.GET.get("page", 1))
    return render(request, "program/group_list.html", {"page": listed.page, "rows": listed.rows})


@roles_required(*RECORD_ROLES)
def group_create(request):
    form = forms.GroupCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                template_id=form.cleaned_data["template_id"],
                start_date=form.cleaned_data["start_date"],
                facilitators=form.cleaned_data["facilitators"],
            )
        except services.GroupRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, f"{group.name} is forming. Enrol its patients, then plan the course.")
            return redirect("program:group", group.pk)
    status = 400 if form.errors else 200
    formrender.read_choices_once([form])
    return render(request, "program/group_form.html", {"form_fields": formrender.drawn_fields(form)}, status=status)


def _group_page(request, group, *, enrol_form=None, waitlist_form=None, plan_form=None, status=200):
    try:
        template = planning.group_template(group)
    except services.PlanRefused as missing:
        template, template_problem = None, str(missing)
    else:
        template_problem = ""
    counts = selectors.enrolment_counts(group=group)
    sessions = selectors.group_sessions(group=group)
    find = request.GET.get("find", "")[:100].strip()  # as long as the patient list's search
    offered, more_match = selectors.enrolment_candidates_offered(user=request.user, group=group, find=find)
    candidates = selectors.enrolment_candidates(user=request.user, group=group, waiting_too=True)
    enrol_form = enrol_form or forms.EnrolForm(patients=candidates, prefix="enrol")
    waitlist_form = waitlist_form or forms.WaitlistForm(patients=candidates, prefix="waitlist")
    for picker in (enrol_form, waitlist_form):
        picker.offer_only(offered)
    roster = selectors.group_roster(user=request.user, group=group)
    enrolled_count = counts.get(Enrolment.Status.ENROLLED, 0)
    waitlist_count = counts.get(Enrolment.Status.WAITLISTED, 0)
    listed = sum(1 for e in roster if e.status in (Enrolment.Status.ENROLLED, Enrolment.Status.WAITLISTED))
    context = {
        "group": group,
        "template": template,
        "template_problem": template_problem,
        "roster": roster,
        # The heading counts everyone while the roster names only this user's patients: "1 waiting" with no one
        # waiting in the list read as a fault, so the page says how many it does not name.
        "unlisted_count": enrolled_count + waitlist_count - listed,
        "facilitator_access": selectors.group_facilitator_access(group=group),
        "sessions": sessions,
        "scheduled_work": selectors.group_scheduled_work(user=request.user, group=group),
        "enrolled_count": enrolled_count,
        "waitlist_count": waitlist_count,
        "enrol_form": enrol_form,
        "waitlist_form": waitlist_form,
        "find": find,
        "more_match": more_match,
        "candidates_offered": selectors.CANDIDATES_OFFERED,
        "plan_form": plan_form or forms.PlanForm(prefix="plan"),
        "can_plan": template is not None and not sessions,
        # The rule `plan` and services.plan_save refuse by: such a viewer is told why rather than offered a button
        # that can only be refused.
        "plan_refusal": (
            selectors.HIDDEN_PATIENTS_REFUSAL
            if selectors.group_has_patient_hidden_from(user=request.user, group=group)
            else ""
        ),
    }
    return render(request, "program/group_detail.html", context, status=status)


@roles_required(*RECORD_ROLES)
def group_detail(request, group_id):
    group = selectors.group_get(user=request.user, group_id=group_id)
    return _group_page(request, group)


@roles_required(*RECORD_ROLES)
@require_POST
def enrol(request, group_id):
    group = selectors.group_get(user=request.user, group_id=group_id)
    form = forms.EnrolForm(
        request.POST,
        patients=selectors.enrolment_candidates(user=request.user, group=group, waiting_too=False),
        prefix="enrol",
    )
    if not form.is_valid():
        return _group_page(request, group, enrol_form=form, status=400)
    patient = form.cleaned_data["patient"]
    try:
        enrolment = services.enrol(
            actor=request.user, group=group, patient=patient, waitlist_if_full=form.cleaned_data["waitlist_if_full"]
        )
    except services.EnrolmentRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if enrolment.status == Enrolment.Status.WAITLISTED:
            messages.warning(request, f"{group.name} is full: {patient.full_name} is on the waitlist.")
        else:
            messages.success(request, f"{patient.full_name} has joined {group.name}.")
    return redirect("program:group", group.pk)


@roles_required(*RECORD_ROLES)
@require_POST
def waitlist(request, group_id):
    group = selectors.group_get(user=request.user, group_id=group_id)
    form = forms.WaitlistForm(
        request.POST,
        patients=selectors.enrolment_candidates(user=request.user, group=group, waiting_too=True),
        prefix="waitlist",
    )
    if not form.is_valid():
        return _group_page(request, group, waitlist_form=form, status=400)
    patient = form.cleaned_data["patient"]
    try:
        services.waitlist(actor=request.user, group=group, patient=patient, reason=form.cleaned_data["reason"])
    except services.EnrolmentRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{patient.full_name} is on the waitlist for {group.name}.")
    return redirect("program:group", group.pk)


@roles_required(*RECORD_ROLES)
@require_POST
def withdraw(request, enrolment_id):
    enrolment = selectors.enrolment_get(user=request.user, enrolment_id=enrolment_id)
    form = forms.WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the patient leaves the group.")
        return _group_page(request, enrolment.group, status=400)
    # Asked on a page of its own before it is done (so without the page's script): the row's button, one click once
    # a reason is typed, sits beside every other patient's.
    if request.POST.get("confirm") != "yes":
        return render(request, "program/withdraw_confirm.html", {"enrolment": enrolment, "form": form})
    try:
        services.withdraw(actor=request.user, enrolment=enrolment, reason=form.cleaned_data["reason"])
    except services.EnrolmentRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("program:group", enrolment.group_id)
    messages.success(request, f"{enrolment.patient.full_name} has left {enrolment.group.name}.")
    return redirect("program:group", enrolment.group_id)


@roles_required(*RECORD_ROLES)
@require_POST
def plan(request, group_id):
    """Runs the scheduler and shows its plan for review; nothing is saved until staff confirm it."""
    group = selectors.group_get(user=request.user, group_id=group_id)
    if selectors.group_has_patient_hidden_from(user=request.user, group=group):
        messages.error(request, f"Cannot plan {group.name}: {selectors.HIDDEN_PATIENTS_REFUSAL}")
        return redirect("program:group", group.pk)
    form = forms.PlanForm(request.POST, prefix="plan")
    # A day that is not a date is shown as the form's error: planned from the default day instead, the course
    # started on a day nobody chose, with nothing to say so.
    if not form.is_valid():
        return _group_page(request, group, plan_form=form, status=400)
    try:
        proposal = planning.plan_course(group=group, start_date=form.cleaned_data["start_date"])
    except services.PlanRefused as refusal:
        messages.error(request, f"Cannot plan {group.name}: {refusal}.")
        return redirect("program:group", group.pk)
    except scheduling.SchedulingError as failure:
        messages.error(request, str(failure))
        return redirect("program:group", group.pk)
    token = signing.dumps(
        {"group": group.pk, "sessions": planning.plan_to_data(proposal.sessions)}, salt=PLAN_SALT, compress=True
    )
    staff = {planning.staff_key(person): person for person in selectors.clinical_staff_all()}
    rows = [
        (s, GroupSession.Kind(s.kind.value).label, [staff.get(key, key) for key in s.facilitator_ids])
        for s in proposal.sessions
    ]
    return render(request, "program/plan_review.html", {"group": group, "plan": proposal, "rows": rows, "token": token})


@roles_required(*RECORD_ROLES)
@require_POST
def plan_confirm(request, group_id):
    group = selectors.group_get(user=request.user, group_id=group_id)
    try:
        data = signing.loads(request.POST.get("plan", ""), salt=PLAN_SALT, max_age=PLAN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        messages.error(request, "This plan has expired or was changed; plan the course again.")
        return redirect("program:group", group.pk)
    if data.get("group") != group.pk:
        raise Http404("The plan belongs to another group.")
    try:
        warnings = services.plan_save(
            actor=request.user, group=group, sessions=planning.plan_from_data(data["sessions"])
        )
    except services.PlanRefused as refusal:
        messages.error(request, f"The plan was not saved: {refusal}. Plan the course again.")
        return redirect("program:group", group.pk)
    messages.success(request, f"The sessions of {group.name} are booked.")
    for warning in warnings:
        messages.warning(request, warning)
    return redirect("program:group", group.pk)


@roles_required(*RECORD_ROLES)
def session_edit(request, session_id):
    session = selectors.session_get(user=request.user, session_id=session_id)
    form = _session_move_form(session, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            warnings = services.session_move(
                actor=request.user,
                session=session,
                starts_at=form.cleaned_data["starts_at"],
                room=form.cleaned_data["room"],
                facilitators=form.cleaned_data["facilitators"],
            )
        except services.PlanRefused as refusal:
            for problem in refusal.problems:
                form.add_error(None, problem)
        else:
            messages.success(request, f"{session.get_kind_display()} {session.number} is moved.")
            for warning in warnings:
                messages.warning(request, warning)
            return redirect("program:group", session.group_id)
    status = 400 if form.errors else 200
    context = _session_page(session, viewer=request.user, form=form)
    return render(request, "program/session_form.html", context, status=status)


def _session_page(session: GroupSession, *, viewer, form=None, site_form=None, telehealth_form=None) -> dict:
    if site_form is None and session.kind == GroupSession.Kind.DOSING:
        site_form = forms.SessionSiteForm(
            prefix="site",
            current_site=session.site,
            initial={"site": session.site, "dosing_setting": session.dosing_setting},
        )
    if telehealth_form is None and session.kind in telehealth.REMOTE_KINDS:
        telehealth_form = forms.SessionTelehealthForm(
            prefix="video",
            initial={
                "held": "video" if session.is_remote else "in_person",
                "video_url": session.video_url,
                "room": session.room,
            },
        )
    # services.session_move's rule: a viewer it would refuse is told why instead of offered the move.
    hidden = selectors.group_has_patient_hidden_from(user=viewer, group=session.group)
    return {
        "session": session,
        "form": form,
        "move_refusal": services.SESSION_MOVE_REFUSAL if hidden else "",
        "site_form": site_form,
        "telehealth_form": telehealth_form,
        "video_link": telehealth.video_link(session),
    }


def _session_move_form(session: GroupSession, data=None) -> forms.SessionMoveForm:
    return forms.SessionMoveForm(
        data,
        held_by_video=session.is_remote,
        initial={
            "starts_at": timezone.localtime(session.starts_at),
            "room": session.room,
            "facilitators": selectors.session_facilitators(session=session),
        },
    )


@roles_required(*RECORD_ROLES)
@require_POST
def session_site(request, session_id):
    """Where a dosing session's doses are taken (site, office or supervised at home)."""
    session = selectors.session_get(user=request.user, session_id=session_id)
    site_form = forms.SessionSiteForm(request.POST, prefix="site", current_site=session.site)
    if site_form.is_valid():
        try:
            services.session_site_set(actor=request.user, session=session, **site_form.cleaned_data)
        except services.PlanRefused as refusal:
            for problem in refusal.problems:
                site_form.add_error(None, problem)
        else:
            messages.success(request, f"{session.get_kind_display()} {session.number}: site and setting recorded.")
            return redirect("program:group", session.group_id)
    context = _session_page(session, viewer=request.user, form=_session_move_form(session), site_form=site_form)
    return render(request, "program/session_form.html", context, status=400)


@roles_required(*RECORD_ROLES)
@require_POST
def session_telehealth(request, session_id):
    """Holds an integration or follow-up session by video, or back in person; a dosing session is refused."""
    session = selectors.session_get(user=request.user, session_id=session_id)
    telehealth_form = forms.SessionTelehealthForm(request.POST, prefix="video")
    if telehealth_form.is_valid():
        try:
            services.session_telehealth_set(
                actor=request.user,
                session=session,
                is_remote=telehealth_form.cleaned_data["held"],
                video_url=telehealth_form.cleaned_data["video_url"],
                room=telehealth_form.cleaned_data["room"],
            )
        except telehealth.TelehealthRefused as refusal:
            telehealth_form.add_error(None, str(refusal))
        else:
            where = "by video" if session.is_remote else "in person"
            messages.success(request, f"{session.get_kind_display()} {session.number} is held {where}.")
            return redirect("program:session_edit", session.pk)
    context = _session_page(
        session, viewer=request.user, form=_session_move_form(session), telehealth_form=telehealth_form
    )
    return render(request, "program/session_form.html", context, status=400)


@roles_required(*RECORD_ROLES)
def patient_away(request, patient_id):
    patient = patient_get(user=request.user, patient_id=patient_id, purpose="away dates")
    form = forms.AwayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.unavailability_record(actor=request.user, patient=patient, **form.cleaned_data)
        messages.success(request, f"Away dates recorded for {patient.full_name}; planning will avoid them.")
        return redirect("program:patient_away", patient.pk)
    away = selectors.away_of_patient(patient=patient)
    return render(
        request,
        "program/away.html",
        {"form_fields": formrender.drawn_fields(form), "away": away, "whose": patient.full_name, "patient": patient},
        status=400 if form.errors else 200,
    )


@roles_required(*RECORD_ROLES)
def staff_away(request):
    staff = selectors.away_staff_choices(user=request.user)
    form = forms.StaffAwayForm(request.POST or None, staff=staff, initial={"staff": request.user.pk})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        person = data.pop("staff")
        services.unavailability_record(actor=request.user, staff=person, **data)
        messages.success(request, f"Away dates recorded for {person.display_name}; planning will avoid them.")
        return redirect("program:staff_away")
    away = selectors.away_of_staff(user=request.user)
    formrender.read_choices_once([form])
    return render(
        request,
        "program/away.html",
        {
            "form_fields": formrender.drawn_fields(form),
            "away": away,
            "whose": "staff" if request.user.role == Role.ADMIN else "you",
        },
        status=400 if form.errors else 200,
    )


@roles_required(*RECORD_ROLES)
@require_POST
def away_delete(request, away_id):
    away = selectors.away_for_change(user=request.user, away_id=away_id)
    if away.patient_id:
        destination = reverse("program:patient_away", args=[away.patient_id])
    else:
        destination = reverse("program:staff_away")
    services.unavailability_delete(actor=request.user, away=away)
    messages.success(request, "Away dates removed.")
    return redirect(destination)


# ---------------------------------------------------------------------------------------------------------------
# Calendar feeds


def _ics_response(content: bytes, *, download: bool) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = "attachment; filename=kapstone-sessions.ics" if download else "inline"
    response["Cache-Control"] = "private, no-store"
    return response


@roles_required(*CALENDAR_ROLES)
def my_calendar(request):
    return _ics_response(selectors.calendar_of(user=request.user), download=True)


@public
def calendar_feed(request, token):
    """The subscription link a calendar app fetches without signing in: the token is the credential."""
    owner = services.feed_owner(token=token)
    if owner is None or owner.role not in CALENDAR_ROLES:
        raise Http404("No such calendar.")
    return _ics_response(selectors.calendar_of(user=owner), download=False)


@roles_required(*CALENDAR_ROLES)
def calendar_settings(request):
    """The download link, and the secret subscription link: shown once when made, revocable."""
    new_link = ""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.feed_token_revoke(user=request.user)
            messages.success(request, "The subscription link no longer works.")
            return redirect("program:calendar")
        if request.POST.get("action") != "issue":
            return HttpResponse("Choose to make or revoke the link.", status=400)
        token = services.feed_token_issue(user=request.user)
        new_link = selectors.feed_url(token)
    feed = selectors.calendar_feed_of(user=request.user)
    return render(request, "program/calendar.html", {"feed": feed, "new_link": new_link})
