"""Signals measures sends to the apps above it.

`alert_raised` is sent after commit whenever an alert opens, joins an open one or rises in priority, so the app
that pages staff (kapstone.alerts) can notify at once without measures importing it.
"""

from django.dispatch import Signal

# kwargs: alert_id: int, priority: int (CriticalAlert.Priority), opened: bool (a new alert rather than a join)
alert_raised = Signal()
