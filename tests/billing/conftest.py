import pytest

from tests.billing.factories import fees


@pytest.fixture
def priced(cast):
    """The cast with fees for the example visit services and the facilitators' billing details."""
    from kapstone.billing import services

    fees(cast.admin, **{"99213": "150.00", "90833": "120.00", "90853": "80.00", "90834": "140.00", "96127": "10.00"})
    services.staff_profile_set(
        actor=cast.admin, user=cast.bob, npi="1234567893", licence_number="MD-1", licence_state="NY"
    )
    services.staff_profile_set(
        actor=cast.admin, user=cast.therapist, npi="1245319599", licence_number="PSY-2", licence_state="NY"
    )
    return cast
