"""Sent when a course's dates change, so the apps that date work from them (questionnaires, creativity tasks) can
follow without the program knowing about them; and when a patient leaves a course, so the apps that message its
patients stop what was waiting for them."""

from django.dispatch import Signal

# Sent inside the transaction that changed the course: a patient enrolled, a plan adopted or a session moved.
# Receivers add what is missing and re-date what is still open. kwargs: actor (a user, or None), group (Group)
course_dates_changed = Signal()

# Sent inside the transaction in which a patient left a group (withdrawn), so what receivers withdraw is withdrawn
# with it or not at all. kwargs: enrolment (Enrolment)
enrolment_left = Signal()
