"""Forms for the creativity tasks. They check size and shape only; what an answer is worth is for the scorer,
which marks empty, garbage or non-English answers itself. A save while time remains is refused over the input
limits, with a message saying what to fix; a hand-in (the patient's, or the page's at time-up) is not: the
time limit would not let them fix it, so the service keeps what fits and says what it trimmed."""

from django import forms

from kapstone.baseforms import Form
from kapstone.creativity import protocol
from kapstone.creativity.models import Occasion


def _limits() -> dict:
    return protocol.administration_settings()


class AUTPartForm(Form):
    part = forms.IntegerField(min_value=0, max_value=20, widget=forms.HiddenInput)
    ideas = forms.CharField(
        required=False,
        strip=False,
        label="Your ideas, one per line",
        widget=forms.Textarea(
            attrs={"rows": 10, "autocomplete": "off", "autocapitalize": "sentences", "class": "aut-ideas"}
        ),
    )

    def __init__(self, *args, handing_in: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        limits = _limits()["aut"]
        self.handing_in = handing_in
        self.max_ideas, self.max_chars = limits["max_responses_per_object"], limits["max_chars_per_response"]
        # A generous ceiling for the whole box: every idea at its longest, plus the line breaks.
        ideas = self.fields["ideas"]
        assert isinstance(ideas, forms.CharField)  # as declared above
        ideas.max_length = self.max_ideas * (self.max_chars + 2)
        ideas.widget.attrs["maxlength"] = ideas.max_length

    def clean_ideas(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["ideas"].replace("\r", "\n").split("\n")]
        ideas = [line for line in lines if line]
        if self.handing_in:
            return ideas
        if len(ideas) > self.max_ideas:
            raise forms.ValidationError(
                f"Please keep to {self.max_ideas} ideas for one object (you have {len(ideas)}); "
                "join or remove a few, then save again."
            )
        too_long = [n for n, idea in enumerate(ideas, start=1) if len(idea) > self.max_chars]
        if too_long:
            raise forms.ValidationError(
                f"Idea {too_long[0]} is longer than {self.max_chars} characters; please shorten it."
            )
        return ideas


class DATForm(Form):
    def __init__(self, *args, handing_in: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        limits = _limits()["dat"]
        longest = limits["max_chars_per_word"]
        for number in range(1, limits["words"] + 1):
            self.fields[f"word_{number}"] = forms.CharField(
                required=False,
                max_length=None if handing_in else longest,
                label=f"Word {number}",
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "autocapitalize": "none",
                        "spellcheck": "false",
                        "class": "dat-word",
                        "maxlength": longest,
                    }
                ),
            )

    @property
    def words(self) -> list[str]:
        return [self.cleaned_data.get(name, "") for name in self.fields]


class ScheduleForm(Form):
    TASK_CHOICES = [("both", "Both tasks"), ("aut", "Alternative uses only"), ("dat", "Unrelated words only")]

    occasion = forms.ChoiceField(choices=Occasion.choices)
    tasks = forms.ChoiceField(choices=TASK_CHOICES, initial="both", label="Tasks")

    def task_list(self) -> list[str]:
        choice = self.cleaned_data["tasks"]
        return [protocol.AUT, protocol.DAT] if choice == "both" else [choice]
