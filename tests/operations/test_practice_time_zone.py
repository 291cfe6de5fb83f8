"""A practice outside the default time zone (KAPSTONE_TIME_ZONE): its migrations are whole, a patient's message
preferences start in its zone, and what messages say of a session's time is read on its clock."""

import datetime
import os
import subprocess
import sys

from kapstone.integration import selectors as integration_selectors
from kapstone.integration.models import NotificationPreference
from kapstone.messaging import services as messaging_services
from kapstone.program.telehealth import video_settings


def test_a_practice_in_another_zone_is_not_told_its_models_have_changes_no_migration_holds(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "KAPSTONE_DEMO": "1",
        "KAPSTONE_VAR_DIR": str(tmp_path),
        "KAPSTONE_TIME_ZONE": "Europe/London",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kapstone", "makemigrations", "--check", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_patients_preferences_start_in_the_practices_zone(cast, settings):
    settings.TIME_ZONE = "Europe/London"
    assert integration_selectors.notification_preference_of(cast.alice).time_zone == "Europe/London"
    NotificationPreference.objects.create(patient=cast.dana)
    assert NotificationPreference.objects.get(patient=cast.dana).time_zone == "Europe/London"


def test_a_session_reminder_says_the_time_on_the_practices_clock(cast, settings):
    session = cast.dosing_session()
    session.starts_at = datetime.datetime(2026, 6, 10, 15, 0, tzinfo=datetime.UTC)
    settings.TIME_ZONE = "Europe/London"
    _, body = messaging_services._session_reminder_text(session, video_settings())
    assert "Wednesday June 10 at 4:00 PM" in body
    settings.TIME_ZONE = "America/Los_Angeles"
    _, body = messaging_services._session_reminder_text(session, video_settings())
    assert "Wednesday June 10 at 8:00 AM" in body
