"""Sent when a dose is given, so other areas (the integration window, questionnaires) can start their work
without the dosing room knowing about them."""

from django.dispatch import Signal

# kwargs: record (DoseRecord)
dose_administered = Signal()
