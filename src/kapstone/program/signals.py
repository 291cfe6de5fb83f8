"""Sent when a course's dates change, so the apps that date work from them (questionnaires, creativity tasks) can
follow without the program knowing about them."""

from django.dispatch import Signal

# Sent inside the transaction that changed the course: a patient enrolled, a plan adopted or a session moved.
# Receivers add what is missing and re-date what is still open. kwargs: actor (a user, or None), group (Group)
course_dates_changed = Signal()
