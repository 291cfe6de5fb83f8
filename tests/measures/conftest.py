import pytest

from kapstone.measures import scoring, services


@pytest.fixture(autouse=True)
def messages_allowed_at_any_hour(request, monkeypatch):
    """Reminder tests run at whatever hour CI does; quiet hours are tested on their own (marked)."""
    if "quiet_hours" not in request.keywords:
        monkeypatch.setattr(services, "may_message_now", lambda **kwargs: True)


@pytest.fixture
def wording_dir(tmp_path, settings):
    """A folder of practice wording (KAPSTONE_INSTRUMENT_WORDING_DIR); instruments are reloaded on the way in and out."""
    settings.INSTRUMENT_WORDING_DIR = str(tmp_path)
    scoring._load_all.cache_clear()
    yield tmp_path
    settings.INSTRUMENT_WORDING_DIR = ""
    scoring._load_all.cache_clear()
