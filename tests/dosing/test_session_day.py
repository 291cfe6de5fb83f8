"""The room checks patients in and gives doses on the session's own day, in the practice's time zone. A dose recorded
afterwards keeps the time it was given, which must fall on that day."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kapstone.dosing import services
from kapstone.dosing.models import DoseRecord, LedgerEntry
from tests.dosing.helpers import signed, signing

DAY = datetime.timedelta(days=1)


def move_session(session, by: datetime.timedelta) -> None:
    session.starts_at += by
    session.ends_at += by
    session.save(update_fields=["starts_at", "ends_at"])


def check_in(cast, record):
    return services.check_in(
        actor=cast.nurse,
        record=record,
        fasting_confirmed=True,
        escort_arranged=True,
        pregnancy_test="n/a",
        intention="",
        weight_kg=Decimal("70"),
    )


def give(cast, record, stock, at=None):
    return services.dose_administer(
        actor=cast.nurse, record=record, balance=stock, witness=signed(cast.bob), administered_at=at
    )


def nothing_given(record, stock):
    record.refresh_from_db()
    stock.refresh_from_db()
    assert record.administered_at is None and stock.balance_mg == Decimal("2000")
    assert not LedgerEntry.objects.filter(kind="administration").exists()


@pytest.mark.parametrize("days", [30, -1])
def test_a_session_of_another_day_cannot_be_checked_in(cast, session, days):
    move_session(session, days * DAY)
    record = services.dose_record_open(actor=cast.nurse, session=session, patient=cast.alice)
    session_day = timezone.localdate(session.starts_at)
    with pytest.raises(
        services.DosingError,
        match=rf"^This session is on \w+ {session_day.day} {session_day:%B %Y}, not \w+ {timezone.localdate().day} "
        r".*: the room checks patients in and gives doses only on the session's own day\.$",
    ):
        check_in(cast, record)
    assert DoseRecord.objects.get(pk=record.pk).checked_in_at is None


@pytest.mark.parametrize("days", [30, -1])
def test_a_session_of_another_day_cannot_be_dosed_now(cast, ready_record, stock, days):
    move_session(ready_record.session, days * DAY)
    with pytest.raises(services.DosingError, match="only on the session's own day"):
        give(cast, ready_record, stock)
    nothing_given(ready_record, stock)


def test_a_dose_recorded_later_with_its_time_on_the_session_day_is_accepted(cast, ready_record, stock):
    move_session(ready_record.session, -DAY)
    given = ready_record.session.starts_at + datetime.timedelta(minutes=30)
    give(cast, ready_record, stock, at=given)
    assert DoseRecord.objects.get(pk=ready_record.pk).administered_at == given


def test_a_dose_time_on_another_day_than_the_session_is_refused(cast, ready_record, stock):
    with pytest.raises(services.DosingError, match="only on the session's own day"):
        give(cast, ready_record, stock, at=timezone.now() - DAY)
    nothing_given(ready_record, stock)


def test_the_room_says_so_on_opening_a_session_of_another_day_and_refuses_the_dose(
    cast, ready_record, stock, client_for
):
    session = ready_record.session
    move_session(session, 30 * DAY)
    client = client_for(cast.nurse)
    page = client.get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "gives doses only on the session&#x27;s own day" in page
    prefix = f"p{cast.alice.pk}-administer-"
    response = client.post(
        reverse("dosing:room_action", args=[session.pk, cast.alice.pk, "administer"]),
        {prefix + "balance": stock.pk, **signing(prefix + "witness", cast.bob)},
    )
    assert response.status_code == 400 and "only on the session&#x27;s own day" in response.content.decode()
    nothing_given(ready_record, stock)


def test_todays_session_shows_no_day_warning(cast, session, client_for):
    page = client_for(cast.nurse).get(reverse("dosing:room", args=[session.pk])).content.decode()
    assert "only on the session&#x27;s own day" not in page
