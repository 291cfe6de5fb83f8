"""The report's filters: the page's form and the CLI's flags both end in a ReportFilters."""

from django import forms

from kapstone.baseforms import Form
from kapstone.measures.dates import EARLIEST_RESULT_DATE
from kapstone.outcomes import selectors, snapshots
from kapstone.program.models import GroupSession

# Coarse steps, so that the filter cannot be stepped a day at a time to isolate the patients dosed on one day.
RESEARCH_MONTHS = (1, 3, 6, 12, 24)


class ReportFilterForm(Form):
    date_from = forms.DateField(
        required=False, label="Courses starting from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))
    template_id = forms.ChoiceField(required=False, label="Course template")
    facilitator_id = forms.TypedChoiceField(required=False, label="Facilitator", coerce=int, empty_value=None)
    indication = forms.ChoiceField(required=False, label="Indication")
    site = forms.ChoiceField(required=False, label="Site of dosing")
    dosing_setting = forms.ChoiceField(
        required=False,
        label="Setting of dosing",
        choices=[("", "All")] + list(GroupSession.DosingSetting.choices),
    )

    def __init__(self, *args, min_cell: int = 0, inputs_digest: str = "", **kwargs):
        """With `min_cell` (a researcher's), no real dates and no facilitator: courses are chosen by time since
        their first dose, and only templates that hold at least `min_cell` patients are offered, so no filter
        narrows the report to a handful of people (the report itself is then suppressed: suppression.py).
        `inputs_digest` is the report's input fingerprint when the caller has read it (the page reads it once for
        the form and the report); otherwise the form reads it, once for all its choices."""
        super().__init__(*args, **kwargs)
        self.min_cell = min_cell
        digest = inputs_digest or snapshots.fingerprint()[0]
        templates = selectors.template_choices(digest=digest)
        labels = selectors.indication_labels()
        names = selectors.template_labels()
        self._choice_field("template_id").choices = [("", "All")] + [(t, names.get(t, t)) for t in templates]
        self.facilitators = dict(selectors.facilitator_choices(digest=digest))
        self._choice_field("facilitator_id").choices = [("", "All"), *self.facilitators.items()]
        self._choice_field("indication").choices = [("", "All")] + sorted(labels.items(), key=lambda item: item[1])
        sites = selectors.site_choices(digest=digest)
        self._choice_field("site").choices = [("", "All")] + [(site, site) for site in sites]
        # The site a researcher chose, by its code: the page they read names no site (selectors.site_for_research).
        self.sites_by_code: dict[str, str] = {}
        if min_cell:
            self.sites_by_code = {selectors.site_for_research(site): site for site in sites}
            self._choice_field("site").choices = [("", "All")] + [(code, code) for code in sorted(self.sites_by_code)]
            for name in ("date_from", "date_to", "facilitator_id"):
                del self.fields[name]
            per_template = selectors.first_course_patients_by("template_id", digest=digest)
            self._choice_field("template_id").choices = [("", "All")] + [
                (t, names.get(t, t)) for t in templates if per_template.get(t, 0) >= min_cell
            ]
            self.fields["months_since_first_dose"] = forms.TypedChoiceField(
                required=False,
                label="First dose at least",
                choices=[("", "Any time ago")] + [(str(m), f"{m} months ago") for m in RESEARCH_MONTHS],
                coerce=int,
                empty_value=None,
            )

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            if cleaned.get(name) and cleaned[name] < EARLIEST_RESULT_DATE:
                self.add_error(name, f"The date cannot be before {EARLIEST_RESULT_DATE:%d %B %Y}.")
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
            months_since_first_dose=data.get("months_since_first_dose"),
            site=self.sites_by_code.get(data.get("site") or "", data.get("site") or ""),
            dosing_setting=data.get("dosing_setting") or "",
        )

    def _choice_field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)  # each filter offering choices is declared a ChoiceField
        return field

    def facilitator_label(self) -> str:
        chosen = self.cleaned_data.get("facilitator_id")
        return self.facilitators.get(chosen, "") if chosen else ""
