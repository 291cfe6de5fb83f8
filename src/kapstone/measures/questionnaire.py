"""Filling in a questionnaire from a request: shared by the staff's entry on a patient's behalf
(kapstone.measures.views) and the patient's own page in the portal."""

from dataclasses import dataclass

from kapstone.measures import selectors, services
from kapstone.measures.forms import SUBMIT, QuestionnaireForm
from kapstone.measures.models import Assessment
from kapstone.measures.scoring import ScoreResult, ScoringError, get_instrument


@dataclass
class QuestionnaireOutcome:
    form: QuestionnaireForm
    result: ScoreResult | None = None
    submitted: bool = False
    unanswered: tuple[int, ...] = ()  # a submit kept as a save because it endorsed a suicide item before the end


def handle_questionnaire(request, *, assessment: Assessment) -> QuestionnaireOutcome:
    """Builds the form and, on POST, saves (partial) or submits it through the service. Invalid input leaves
    the form with messages and nothing saved."""
    instrument = get_instrument(assessment.instrument_id)
    answers, free_text = selectors.stored_answers(assessment=assessment), assessment.free_text
    if request.method != "POST":
        return QuestionnaireOutcome(
            QuestionnaireForm(instrument=instrument, initial_answers=answers, initial_free_text=free_text)
        )
    form = QuestionnaireForm(request.POST, instrument=instrument, initial_answers=answers, initial_free_text=free_text)
    submit = request.POST.get("action") == SUBMIT
    if not form.is_valid():
        return QuestionnaireOutcome(form)
    try:
        result = services.assessment_save_answers(
            actor=request.user, assessment=assessment, answers=form.answers(), submit=submit, free_text=form.free_text()
        )
    except services.IncompleteAnswers as error:
        if error.endorses_suicide_item:
            # [critical-item-practice] a patient who endorses a suicide item is shown the crisis lines at once and the
            # care team is told: refusing the early submit would drop that answer, so it is kept as a save (which
            # raises the alert) and the rest of the form waits, unscored, as after any save.
            result = services.assessment_save_answers(
                actor=request.user,
                assessment=assessment,
                answers=form.answers(),
                submit=False,
                free_text=form.free_text(),
            )
            return QuestionnaireOutcome(form, result=result, unanswered=error.missing)
        form.add_missing_errors(error.missing)
        form.add_error(None, str(error))
        return QuestionnaireOutcome(form)
    except ScoringError as error:
        form.add_error(None, str(error))
        return QuestionnaireOutcome(form)
    return QuestionnaireOutcome(form, result=result, submitted=submit)
