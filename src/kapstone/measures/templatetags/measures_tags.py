from django import template
from django.utils.safestring import SafeString, mark_safe

from kapstone.formrender import shown
from kapstone.measures.forms import QuestionnaireForm
from kapstone.measures.scoring import Risk

register = template.Library()


@register.filter
def risk_in_words(risk: Risk, level: str) -> str:
    """`{{ instrument.risk|risk_in_words:level }}`: a triage level as staff read it everywhere (Risk.in_words)."""
    return risk.in_words(level)


@register.simple_tag
def question_fieldsets(form: QuestionnaireForm) -> SafeString:
    """The questionnaire's questions, a fieldset each, as questions.html's loop wrote them, byte for byte
    (tests/measures/question_fieldset_template.html, compared in test_question_fieldsets): a questionnaire's
    twenty-odd questions of a dozen lookups each, and a loop over every answer of each, were most of the portal's
    questionnaire page (issue 19). Each value is escaped as the template's autoescaping did (formrender.shown); the
    widgets are the form renderer's, as `{{ radio.tag }}` and `{{ field }}` drew them."""
    drawn = []
    for number, field in enumerate(form.questions(), start=1):
        errors = field.errors
        help_text = field.help_text
        auto_id = shown(field.auto_id)
        described = f' aria-describedby="{auto_id}_helptext"' if help_text else ""
        help_line = f'<p class="help" id="{auto_id}_helptext">{shown(help_text)}</p>' if help_text else ""
        error_lines = (
            f'<div id="{auto_id}_error">'
            + "".join(f'<p class="error" role="alert">{shown(error)}</p>' for error in errors)
            + "</div>"
            if errors
            else ""
        )
        if getattr(field.field.widget, "input_type", None) == "radio":
            choices = "".join(
                f'<label class="choice" for="{shown(radio.id_for_label)}">{shown(radio.tag())}'
                f"<span>{shown(radio.choice_label)}</span></label>"
                for radio in field
            )
            answer = f'\n      <div class="choices">{choices}</div>\n    '
        else:
            answer = (
                f'\n      <label class="visually-hidden" for="{shown(field.id_for_label)}">Answer to question {number}'
                f"</label>{shown(str(field))}\n    "
            )
        drawn.append(
            f'\n  <fieldset class="question{" has-error" if errors else ""}"{described}>\n'
            f'    <legend><span class="qnum">{number}.</span> {shown(field.label)}</legend>\n'
            f"    {help_line}\n"
            f"    {error_lines}\n"
            f"    {answer}\n"
            "  </fieldset>\n  "
        )
    return mark_safe("".join(drawn))  # noqa: S308 - every value escaped above, the widgets by the form renderer
