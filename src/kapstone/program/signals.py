"""Sent when a course's dates change, so the apps that date work from them (questionnaires, creativity tasks) can
follow without the program knowing about them; and asked before an enrolment, so the apps that hold safety facts
can refuse it."""

from django.dispatch import Signal

# Sent inside the transaction that changed the course: a patient enrolled, a plan adopted or a session moved.
# Receivers add what is missing and re-date what is still open. kwargs: actor (a user, or None), group (Group)
course_dates_changed = Signal()

# Sent by enrol before a patient takes a seat, so the apps that hold safety facts the screening gate cannot read (an
# open suicide-risk alert, medicines added to the record since screening) can refuse without the program knowing
# about them. Each receiver returns a list of plain-language reasons the patient cannot join (empty: none).
# kwargs: patient (Patient)
enrolment_checks = Signal()
