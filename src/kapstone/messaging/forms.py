"""Message forms. A picture goes through the journal's own checks (integration.forms.clean_image_upload)."""

from django import forms

from kapstone.baseforms import Form
from kapstone.integration.forms import clean_image_upload
from kapstone.messaging.models import MAX_MESSAGE_CHARACTERS, SessionChangeRequest


class MessageForm(Form):
    body = forms.CharField(
        label="Your message",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=MAX_MESSAGE_CHARACTERS,
        error_messages={"max_length": f"A message holds at most {MAX_MESSAGE_CHARACTERS:,} characters."},
    )
    attachment = forms.FileField(
        label="Attach a picture (optional)",
        required=False,
        help_text="A JPEG, PNG or WebP picture of at most 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        return clean_image_upload(upload) if upload else None

    def clean(self):
        data = super().clean()
        if not self.errors and not (data.get("body") or "").strip() and data.get("attachment") is None:
            raise forms.ValidationError("Write a message or attach a picture.")
        return data


class NewThreadForm(MessageForm):
    subject = forms.CharField(label="Subject", max_length=120)

    field_order = ["subject", "body", "attachment"]


class ChangeRequestForm(Form):
    kind = forms.ChoiceField(
        label="What would you like?", choices=SessionChangeRequest.Kind.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Anything your care team should know (optional)",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DecisionForm(Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])
    note = forms.CharField(label="Note to the patient", max_length=500, required=False)
