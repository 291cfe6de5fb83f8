"""The report's filters: the page's form and the CLI's flags both end in a ReportFilters."""

from django import forms

from kapstone.outcomes import selectors


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(
        required=False, label="Courses starting from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))
    template_id = forms.ChoiceField(required=False, label="Course template")
    facilitator_id = forms.TypedChoiceField(required=False, label="Facilitator", coerce=int, empty_value=None)
    indication = forms.ChoiceField(required=False, label="Indication")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template_id"].choices = [("", "All")] + [(t, t) for t in selectors.template_choices()]
        self.fields["facilitator_id"].choices = [("", "All")] + selectors.facilitator_choices()
        labels = selectors.indication_labels()
        self.fields["indication"].choices = [("", "All")] + sorted(labels.items(), key=lambda item: item[1])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            raise forms.ValidationError("The start of the date range is after its end.")
        return cleaned

    def filters(self) -> selectors.ReportFilters:
        data = self.cleaned_data
        return selectors.ReportFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            template_id=data.get("template_id") or "",
            facilitator_id=data.get("facilitator_id"),
            indication=data.get("indication") or "",
        )

    def facilitator_label(self) -> str:
        chosen = self.cleaned_data.get("facilitator_id")
        return dict(self.fields["facilitator_id"].choices).get(chosen, "") if chosen else ""
