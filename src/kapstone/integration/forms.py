"""Forms for the journal, notification preferences and therapist notes. Uploads are checked by their content."""

import functools
import io
import zoneinfo
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from PIL import Image, UnidentifiedImageError

from kapstone import formrender
from kapstone.baseforms import Form, ModelForm
from kapstone.integration.models import JournalEntry, NotificationPreference
from kapstone.integration.services import CleanImage
from kapstone.program.models import GroupSession

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Operational: a phone photo (12 MP, 4032 x 3024) fits; decoded as RGBA this is at most 64 MB, so a handful of
# uploads at once cannot exhaust the server (a 4.9 KB PNG of 6,320 x 6,320 pixels took 1.9 GB for eight at once).
MAX_IMAGE_PIXELS = 4096 * 4096
# Text limits: a journal entry is a few pages at most; anything longer is a paste gone wrong.
MAX_ENTRY_CHARACTERS = 20_000
# Pillow format -> (extension, content type). Raster formats only: SVG can carry script.
IMAGE_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}


def clean_image_upload(upload) -> CleanImage:
    """Accepts a JPEG, PNG or WebP image of at most 5 MB, judged by its bytes rather than its name or declared
    type, and re-encodes it so metadata (such as a phone's GPS position) and anything appended is dropped."""
    if upload.size > MAX_IMAGE_BYTES:
        raise forms.ValidationError("The picture is larger than 5 MB. Please choose a smaller one.")
    data = upload.read()
    try:
        # Image.open reads the header only: the size is checked before anything is decoded.
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if kind is None or kind not in IMAGE_FORMATS:
                raise forms.ValidationError("Please upload a JPEG, PNG or WebP picture.")
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise forms.ValidationError(
                    f"The picture has too many pixels ({probe.width} x {probe.height}). Please choose one of at "
                    "most 16 megapixels, or a smaller copy."
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:  # the same bytes, so the same format
            image.load()
            clean = image.convert("RGB") if kind == "JPEG" else image.convert("RGBA")
            out = io.BytesIO()
            clean.save(out, format=kind, **({"quality": 90} if kind != "PNG" else {}))
    except forms.ValidationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise forms.ValidationError("This file is not a picture we can read (JPEG, PNG or WebP).") from None
    extension, content_type = IMAGE_FORMATS[kind]
    return CleanImage(content=out.getvalue(), extension=extension, content_type=content_type)


class JournalEntryForm(Form):
    prompt = forms.ChoiceField(
        label="What are you writing about?", choices=JournalEntry.Prompt.choices, initial=JournalEntry.Prompt.FREE
    )
    text = forms.CharField(
        label="Your entry", widget=forms.Textarea(attrs={"rows": 8}), required=False, max_length=MAX_ENTRY_CHARACTERS
    )
    mood = forms.TypedChoiceField(
        label="Your mood right now, by your own rating",
        choices=[("", "Not rated")] + [(str(n), str(n)) for n in range(11)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="0 is the lowest you have felt, 10 the best. This is your own rating, not a clinical score.",
    )
    activity = forms.ChoiceField(
        label="Creative activity", choices=[("", "None")] + list(JournalEntry.Activity.choices), required=False
    )
    activity_minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=24 * 60, required=False)
    image = forms.FileField(
        label="A picture of your work (optional)",
        required=False,
        help_text="JPEG, PNG or WebP, up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    share = forms.BooleanField(
        label="Share this entry with my care team",
        required=False,
        help_text="Entries are private unless you tick this. You can change it later.",
    )

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        return clean_image_upload(upload) if upload else None

    def clean(self):
        data = super().clean()
        text, activity, minutes = (data.get("text") or "").strip(), data.get("activity"), data.get("activity_minutes")
        if not (text or activity or data.get("mood") is not None) and not self.errors:
            raise forms.ValidationError("Write something, rate your mood or log a creative activity.")
        if activity and not minutes:
            self.add_error("activity_minutes", "Say for how many minutes.")
        if minutes and not activity:
            self.add_error("activity", "Choose the kind of activity.")
        if data.get("image") and not activity:
            self.add_error("activity", "Choose the kind of creative activity the picture shows.")
        return data


class ShareForm(Form):
    shared = forms.BooleanField(required=False)


# The regions of the time zone database whose zones are places a patient lives ("America/New_York"), not aliases
# ("US/Eastern", "Etc/GMT+5") that say the same thing twice in the list.
PLACE_REGIONS = frozenset(
    {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)


@functools.cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Each place's zone, written as a place ("America/New York"), and UTC: a patient picks one on a phone instead of
    typing its database name."""
    places = sorted(zone for zone in zoneinfo.available_timezones() if zone.split("/")[0] in PLACE_REGIONS)
    return [(zone, zone.replace("_", " ")) for zone in places] + [("UTC", "UTC")]


class NotificationPreferenceForm(ModelForm):
    time_zone = forms.ChoiceField(
        label="Your time zone",
        choices=time_zone_choices,
        help_text="The place whose clock you live by, for example America/New York or Europe/London.",
        error_messages={"invalid_choice": "Choose your time zone from the list."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A zone saved before the list (an alias such as US/Eastern) stays offered, so saving keeps it.
        current = self.instance.time_zone if self.instance is not None else ""
        if current and current not in dict(time_zone_choices()):
            field = cast(forms.ChoiceField, self.fields["time_zone"])
            field.choices = [(current, current), *time_zone_choices()]

    class Meta:
        model = NotificationPreference
        fields = ["by_email", "by_sms", "time_zone", "quiet_start", "quiet_end"]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {"quiet_end": "We hold messages during these hours and send them afterwards."}


class IntegrationNoteForm(Form):
    # The annotation is quoted: ModelChoiceField is generic only to the type checker.
    session: "forms.ModelChoiceField[GroupSession]" = forms.ModelChoiceField(label="Integration session", queryset=None)
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)

    def __init__(
        self, *args: Any, sessions: QuerySet[GroupSession], bookable: list[GroupSession] | None = None, **kwargs: Any
    ) -> None:
        """sessions: what a posted choice is checked against. bookable: the same sessions, if the caller read them
        already (selectors.staff_timeline does, with the timeline's own)."""
        super().__init__(*args, **kwargs)
        self._sessions = sessions
        self._bookable = bookable
        field = cast("forms.ModelChoiceField[GroupSession]", self.fields["session"])
        field.queryset = sessions
        # The drawn choices come from `bookable`, read at most once (issue 19): the field's own choices read the
        # sessions through a server-side cursor (three round trips) after the template's EXISTS asked if there were any.
        field.choices = lambda: formrender.choices_of(field, self.bookable)

    @property
    def bookable(self) -> list[GroupSession]:
        """The sessions a note may be linked to, with what their labels name (the group's name, the kind and the
        number). Read only if the form is drawn: a posted note that saves never reads them."""
        if self._bookable is None:
            self._bookable = list(self._sessions.only("kind", "number", "group__name"))
        return self._bookable


class PsychotherapyNoteForm(Form):
    text = forms.CharField(label="Psychotherapy note", widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)
