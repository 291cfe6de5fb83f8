import datetime
import zoneinfo

import pytest

from kapstone.alerts.models import OnCallSlot, StaffContact
from tests.conftest import make_user

# A Monday, 10:00 in the practice's time zone (settings.TIME_ZONE): the clock the escalation tests run on.
MONDAY_10AM = datetime.datetime(2030, 3, 4, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))


@pytest.fixture
def paging(cast, settings):
    """Staff with email addresses, charlie on call on Mondays by day, dora overnight, and a medical director."""
    settings.TIME_ZONE = "America/New_York"
    for user in (cast.bob, cast.charlie, cast.therapist, cast.nurse):
        user.email = f"{user.username}@practice.example"
        user.save(update_fields=["email"])
    dora = make_user("dora", "prescriber", email="dora@practice.example")
    director = make_user("medic", "prescriber", email="medic@practice.example", is_medical_director=True)
    OnCallSlot.objects.create(prescriber=cast.charlie, weekday=0, starts="08:00", ends="18:00", created_by=cast.bob)
    OnCallSlot.objects.create(prescriber=dora, weekday=0, starts="18:00", ends="08:00", created_by=cast.bob)
    StaffContact.objects.create(user=cast.bob, mobile="+15555550101")
    return {"dora": dora, "director": director}
