import datetime

from django import forms
from django.utils import timezone

from kapstone.accounts.fields import StaffChoiceField, StaffMultipleChoiceField
from kapstone.accounts.models import User
from kapstone.accounts.roles import Role
from kapstone.baseforms import Form
from kapstone.program.course_templates import TemplateError, load_templates
from kapstone.program.models import GroupSession, Room, Unavailability
from kapstone.program.selectors import clinical_staff
from kapstone.program.sites import practice_sites
from kapstone.program.telehealth import is_video_url


class GroupCreateForm(Form):
    name = forms.CharField(max_length=100)
    template_id = forms.ChoiceField(label="Course template")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    facilitators = StaffMultipleChoiceField(
        queryset=clinical_staff(),
        widget=forms.CheckboxSelectMultiple,
        help_text="At least one prescriber: every dosing session needs one among its facilitators.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            self.templates, self.template_problems = load_templates(), ()
        except TemplateError as broken:
            self.templates, self.template_problems = {}, broken.problems
        self.fields["template_id"].choices = [(t.id, t.name) for t in self.templates.values()]
        self.fields["facilitators"].queryset = clinical_staff()

    def clean(self):
        cleaned = super().clean()
        if self.template_problems:
            raise forms.ValidationError(["The practice's course templates need fixing first:", *self.template_problems])
        template = self.templates.get(cleaned.get("template_id", ""))
        chosen = list(cleaned.get("facilitators") or [])
        if template and "facilitators" in cleaned:
            staffing = template.dosing.staffing
            if sum(person.role == Role.PRESCRIBER for person in chosen) < staffing.min_prescribers:
                self.add_error("facilitators", "Choose at least one prescriber: every dosing session needs one.")
            elif len(chosen) < staffing.facilitators:
                self.add_error(
                    "facilitators", f"Each dosing session of this course needs {staffing.facilitators} facilitators."
                )
        return cleaned


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_name} ({obj.record_number})"


class _PatientPicker(Form):
    def offer_only(self, patients: list) -> None:
        """Draws the picker with these patients alone; what is accepted is still the whole queryset the form was
        given, so a patient found by a search can be chosen."""
        field = self.fields["patient"]
        assert isinstance(field, PatientChoiceField)  # both pickers declare it
        field.widget.choices = [("", field.empty_label), *((p.pk, field.label_from_instance(p)) for p in patients)]


class EnrolForm(_PatientPicker):
    patient = PatientChoiceField(queryset=None, label="Patient")
    waitlist_if_full = forms.BooleanField(required=False, label="Put on the waitlist if the group is full")

    def __init__(self, *args, patients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients


class WaitlistForm(_PatientPicker):
    patient = PatientChoiceField(queryset=None, label="Patient")
    reason = forms.CharField(max_length=300, help_text="e.g. waiting for the screening review, starts next cohort")

    def __init__(self, *args, patients, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients


class WithdrawForm(Form):
    reason = forms.CharField(max_length=300)


class PlanForm(Form):
    start_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Plan from this day (default: the group's start date, or today if that has passed).",
    )


class SessionMoveForm(Form):
    """A session's time, room and facilitators. A session held by video needs no room (one may still be kept, for
    a facilitator who joins from it); one held in person does."""

    starts_at = forms.DateTimeField(
        label="Starts at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    room = forms.ModelChoiceField(queryset=Room.objects.all())
    facilitators = StaffMultipleChoiceField(queryset=clinical_staff(), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, held_by_video: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        facilitators, room = self.fields["facilitators"], self.fields["room"]
        assert isinstance(facilitators, forms.ModelChoiceField) and isinstance(room, forms.ModelChoiceField)  # declared
        facilitators.queryset = clinical_staff()
        if held_by_video:
            room.required = False
            room.empty_label = "No room (held by video)"
            room.help_text = "Optional: the session is held by video."


class SessionSiteForm(Form):
    """Where a dosing session's doses are taken: one of the practice's sites, in the office or supervised at home."""

    site = forms.ChoiceField(label="Site")
    dosing_setting = forms.ChoiceField(label="Setting", choices=GroupSession.DosingSetting.choices)

    def __init__(self, *args, current_site: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        names = practice_sites()
        # A site since renamed stays selectable on the session that recorded it.
        if current_site and current_site not in names:
            names = [current_site, *names]
        site = self.fields["site"]
        assert isinstance(site, forms.ChoiceField)  # as declared above
        site.choices = [(name, name) for name in names]


class SessionTelehealthForm(Form):
    """Whether an integration or follow-up session is held in person, and in which room, or by video, and its link."""

    held = forms.TypedChoiceField(
        label="Held",
        choices=[("in_person", "In person"), ("video", "By video")],
        coerce=lambda value: value == "video",
    )
    video_url = forms.CharField(
        label="Video link for this session",
        max_length=300,
        required=False,
        help_text="Optional: an https link. Left blank, the facilitator's own room or the practice's video link is used.",
    )
    room = forms.ModelChoiceField(
        queryset=Room.objects.all(),
        required=False,
        label="Room, when held in person",
        help_text="A session held in person needs a room; one held by video keeps its room, if it has one.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("held") is False and cleaned.get("room") is None and "room" not in self.errors:
            self.add_error("room", "Choose a room: the session is held in person.")
        return cleaned

    def clean_video_url(self) -> str:
        link = self.cleaned_data["video_url"].strip()
        if link and not is_video_url(link):
            raise forms.ValidationError(
                "Give an https link to the video room (it starts with https://), or leave it blank."
            )
        return link


class AwayForm(Form):
    first_day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first_day"), cleaned.get("last_day")
        problem = Unavailability.dates_problem(first, last, timezone.localdate()) if first and last else ""
        if problem:
            self.add_error("last_day", problem)
        if last and last < timezone.localdate() - datetime.timedelta(days=1):
            self.add_error("last_day", "These dates have passed.")
        return cleaned


class StaffAwayForm(AwayForm):
    # The annotation is quoted: ModelChoiceField is generic only to the type checker.
    staff: "forms.ModelChoiceField[User]" = StaffChoiceField(queryset=None, label="Who")

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = staff
        self.order_fields(["staff", "first_day", "last_day", "note"])
