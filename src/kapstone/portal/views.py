from django.contrib import messages
from django.shortcuts import redirect, render

from kapstone import formrender
from kapstone.accounts.permissions import roles_required
from kapstone.accounts.roles import Role
from kapstone.alerts.selectors import current_safety_plan
from kapstone.creativity import selectors as creativity
from kapstone.integration.selectors import patient_risk_words
from kapstone.measures import charts
from kapstone.measures import selectors as measures
from kapstone.measures import services as measures_services
from kapstone.measures.crisis import crisis_phrases_in
from kapstone.measures.portal_settings import PREFIX as MEASURES_PREFIX
from kapstone.measures.portal_settings import crisis_page_promise, crisis_resources
from kapstone.measures.questionnaire import handle_questionnaire
from kapstone.measures.scoring import get_instrument
from kapstone.messaging.forms import ChangeRequestForm
from kapstone.patients.selectors import patient_for_portal_user
from kapstone.portal import selectors
from kapstone.portal.course import course_view
from kapstone.portal.practice_settings import home_settings


@roles_required(Role.PATIENT)
def home(request):
    patient = selectors.portal_home_of(user=request.user)
    practice_settings = home_settings()
    context = {
        "patient": patient,
        "due": measures.portal_due(patient=patient),
        "crisis_resources": crisis_resources(practice_settings[MEASURES_PREFIX]),
        "course": course_view(patient=patient, practice_settings=practice_settings),
        # On a dosing day the word games wait (creativity.services.DosingDay): the home says so, as the tasks page
        # does, rather than offer a link to a page that only says "Not today".
        "creativity_blocked_until": creativity.dosing_block_until(patient=patient),
        "creativity_waiting": creativity.portal_tasks_waiting(patient=patient),
        # The same empty form on every home: drawn once for all of them (issue 19).
        "change_fields": formrender.empty_form_fields(ChangeRequestForm()),
    }
    return render(request, "portal/home.html", context)


@roles_required(Role.PATIENT)
def invitation(request, token):
    """An emailed link: spent on first use, then the questionnaire opens in the signed-in portal."""
    patient_for_portal_user(request.user)
    try:
        assessment = measures_services.invitation_redeem(actor=request.user, token=token)
    except measures_services.InvitationUnusable as error:
        messages.info(request, str(error))
        return redirect("portal:home")
    return redirect("portal:questionnaire", assessment_id=assessment.pk)


@roles_required(Role.PATIENT)
def questionnaire(request, assessment_id):
    patient = patient_for_portal_user(request.user)
    assessment = measures.portal_assessment(patient=patient, assessment_id=assessment_id)
    instrument = get_instrument(assessment.instrument_id)
    if not assessment.is_open or instrument.entry != "items":
        messages.info(request, "This questionnaire is no longer open.")
        return redirect("portal:home")
    outcome = handle_questionnaire(request, assessment=assessment)
    if outcome.result is not None:
        if outcome.result.crisis_resources or crisis_phrases_in(outcome.form.free_text() or ""):
            # Shown at once, whether the form was submitted or only saved.
            context = {
                "resources": crisis_resources(),
                "promise": crisis_page_promise(),
                "safety_plan": current_safety_plan(patient=patient),
                "submitted": outcome.submitted,
                "assessment": assessment,
            }
            return render(request, "portal/questionnaires/crisis.html", context)
        if outcome.submitted:
            messages.success(request, "Thank you: your answers are with your care team.")
        else:
            messages.success(request, "Saved. You can finish this questionnaire later from your portal.")
        return redirect("portal:home")
    context = {
        "assessment": assessment,
        "instrument": instrument,
        "form": outcome.form,
        "resources": crisis_resources(),
    }
    return render(request, "portal/questionnaires/form.html", context, status=400 if request.method == "POST" else 200)


@roles_required(Role.PATIENT)
def history(request):
    patient = patient_for_portal_user(request.user)
    history = measures.portal_history(patient=patient)
    charted = [(t, charts.trajectory_svg(t)) for t in history.trajectories]
    # A screener scored as a triage level has no total to chart: each result in the words the patient's timeline
    # uses, never the level itself.
    screened = [
        (
            triage.instrument,
            [(a.completed_at, patient_risk_words(a.instrument_id, a.triage_risk)) for a in triage.points],
        )
        for triage in history.triage_results
    ]
    context = {"patient": patient, "charted": charted, "screened": screened}
    return render(request, "portal/questionnaires/history.html", context)
