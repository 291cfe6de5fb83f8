"""The dosing room's card forms, each in its disclosure, written out in Python (dosing/views.py, _card_form), come out
exactly as the template they replaced (dosing/room_form.html) drew them: empty, with errors, and with awkward text."""

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils.safestring import mark_safe

from kapstone.dosing.views import ROOM_FORM_LABELS, _card_form, _DrawnForm

# dosing/room_form.html, as each card included it for each of its forms.
ROOM_FORM_TEMPLATE = """<details{% if form.errors %} open{% endif %}>
  <summary>{{ label }}</summary>
  <form method="post" action="{% url 'dosing:room_action' session.pk patient.pk action %}" novalidate>
    {% csrf_token %}
    {{ form.fields }}
    <button type="submit">Save</button>
  </form>
</details>
"""


class _Pk:
    def __init__(self, pk: int):
        self.pk = pk


@pytest.mark.parametrize("errors", [False, True])
@pytest.mark.parametrize("label", [*ROOM_FORM_LABELS.values(), 'Odd "label" <&>'])
def test_a_card_form_comes_out_as_the_template_drew_it(label, errors):
    drawn = _DrawnForm(mark_safe('<div class="field"><input name="p7-note-text"></div>'), errors=errors)
    token = "abcDEF123"
    by_template = Template(ROOM_FORM_TEMPLATE).render(
        Context(
            {
                "form": drawn,
                "label": label,
                "session": _Pk(3),
                "patient": _Pk(7),
                "action": "note",
                "csrf_token": token,
            }
        )
    )
    url = reverse("dosing:room_action", args=[3, 7, "note"])
    assert _card_form(drawn, label=label, url=url, csrf_token=token) == by_template
