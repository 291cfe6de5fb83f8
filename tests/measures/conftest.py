import pytest

from kapstone.measures import services


@pytest.fixture(autouse=True)
def messages_allowed_at_any_hour(request, monkeypatch):
    """Reminder tests run at whatever hour CI does; quiet hours are tested on their own (marked)."""
    if "quiet_hours" not in request.keywords:
        monkeypatch.setattr(services, "may_message_now", lambda **kwargs: True)
