"""The questionnaire's questions drawn in Python (measures_tags.question_fieldsets) are the template's loop's, byte for
byte, for every questionnaire Kapstone ships: blank, with answers saved, and sent back with errors (an answer out of
range, questions left unanswered), with awkward words in a label, an answer and an error."""

from pathlib import Path

import pytest
from django.template import engines

from kapstone.measures.forms import FREE_TEXT, QuestionnaireForm
from kapstone.measures.scoring import list_instruments
from kapstone.measures.templatetags.measures_tags import question_fieldsets

# Its comment line and the newline that ends the file are not part of the loop.
OLD_QUESTIONS = (Path(__file__).parent / "question_fieldset_template.html").read_text().split("\n", 1)[1][:-1]
AWKWARD = '<b>"O\'Brien" & co</b>'
ITEM_INSTRUMENTS = [instrument for instrument in list_instruments() if instrument.entry == "items"]


def _old(form: QuestionnaireForm) -> str:
    return engines["django"].from_string(OLD_QUESTIONS).render({"form": form})


def _answers(instrument) -> dict[int, int]:
    """An answer to every other question: the first option, or the lowest number a box takes."""
    return {
        item.number: item.responses.options[0][0] if item.responses.options else item.responses.minimum
        for item in instrument.items[::2]
    }


@pytest.mark.parametrize("instrument", ITEM_INSTRUMENTS, ids=lambda instrument: instrument.id)
def test_a_blank_and_a_saved_questionnaire_draw_as_the_template_drew_them(instrument):
    for form in (
        QuestionnaireForm(instrument=instrument),
        QuestionnaireForm(instrument=instrument, initial_answers=_answers(instrument), initial_free_text=AWKWARD),
    ):
        assert question_fieldsets(form) == _old(form)


@pytest.mark.parametrize("instrument", ITEM_INSTRUMENTS, ids=lambda instrument: instrument.id)
def test_a_questionnaire_sent_back_with_errors_draws_as_the_template_drew_it(instrument):
    data = {f"item_{item.number}": "999" for item in instrument.items[:2]} | {FREE_TEXT: AWKWARD}
    form = QuestionnaireForm(data, instrument=instrument)
    assert not form.is_valid()
    form.add_missing_errors(tuple(item.number for item in instrument.items[2:4]))
    form.add_error(f"item_{instrument.items[-1].number}", AWKWARD)
    drawn = question_fieldsets(form)
    assert drawn == _old(form)
    assert "has-error" in drawn and "&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;" in drawn


def test_awkward_words_of_a_question_are_escaped_as_the_template_escaped_them():
    instrument = ITEM_INSTRUMENTS[0]
    form = QuestionnaireForm(instrument=instrument)
    first = next(iter(form.fields.values()))
    first.label, first.help_text = AWKWARD, AWKWARD
    drawn = question_fieldsets(form)
    assert drawn == _old(form)
    assert AWKWARD not in drawn
