"""A calendar subscription link is fetched without signing in, so it ends with the login's credentials: a leaked
link must not outlive the password reset or the lost phone's two-factor reset that secured the account again."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from kapstone.accounts import services as accounts
from kapstone.accounts.models import AccountLink
from kapstone.audit.models import AuditEvent
from kapstone.program import services
from kapstone.program.models import CalendarFeed

NEW_PASSWORD = "a-fresh-calendar-proof-passphrase"


def _feed_works(token: str) -> bool:
    return Client().get(reverse("program:feed", args=[token])).status_code == 200


def _ended_by(user, actor) -> bool:
    return AuditEvent.objects.filter(
        object_type="calendar_feed", object_id=str(user.pk), action="delete", actor_id=actor.pk
    ).exists()


def test_the_users_own_password_change_ends_the_link(cast):
    token = services.feed_token_issue(user=cast.bob)
    assert _feed_works(token)
    accounts.password_change(user=cast.bob, password=NEW_PASSWORD)
    assert not _feed_works(token)
    assert not CalendarFeed.objects.filter(user=cast.bob).exists()
    assert _ended_by(cast.bob, cast.bob)


def test_a_password_set_by_an_emailed_link_ends_the_link(cast):
    token = services.feed_token_issue(user=cast.alice_user)
    reset = accounts.account_link_create(
        user=cast.alice_user, purpose=AccountLink.Purpose.PASSWORD_RESET, lifetime=datetime.timedelta(hours=1)
    )
    accounts.password_set_by_link(token=reset, password=NEW_PASSWORD)
    assert not _feed_works(token)
    assert _ended_by(cast.alice_user, cast.alice_user)


@pytest.mark.parametrize("action", ["reset_two_factor", "deactivate"])
def test_an_admins_reset_or_deactivation_ends_the_link_and_reactivating_does_not_bring_it_back(
    cast, client_for, action
):
    token = services.feed_token_issue(user=cast.bob)
    response = client_for(cast.admin).post(
        reverse("accounts:staff_action", args=[cast.bob.pk, action]), {"confirm": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not CalendarFeed.objects.filter(user=cast.bob).exists()
    assert _ended_by(cast.bob, cast.admin)
    accounts.staff_set_active(actor=cast.admin, staff=cast.bob, active=True)
    assert not _feed_works(token)


def test_the_confirmations_and_the_change_say_the_link_stops(cast, client_for):
    page = client_for(cast.admin).post(reverse("accounts:staff_action", args=[cast.bob.pk, "deactivate"]))
    assert "calendar subscription link stop working" in page.content.decode()
    bob = client_for(cast.bob)
    services.feed_token_issue(user=cast.bob)
    response = bob.post(
        reverse("accounts:password_change"),
        {"old_password": "correct-horse-battery", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "calendar subscription link, if you had one, stops working" in response.content.decode()
    assert "Make a link" in bob.get(reverse("program:calendar")).text
