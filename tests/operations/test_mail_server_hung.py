"""A mail server that accepts the connection and then never answers (a hung relay): a page that emails a link gives
up within EMAIL_TIMEOUT, before gunicorn's worker timeout would kill it mid-send, says so and leaves no link that
never left."""

import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.models import AccountLink

STAFF = {
    "username": "dr.new",
    "first_name": "Nia",
    "last_name": "New",
    "email": "nia@practice.example",
    "role": "nurse",
}
# gunicorn's default worker timeout: a request still running after it is killed and answered with a 502.
GUNICORN_WORKER_TIMEOUT_SECONDS = 30


@pytest.fixture
def hung_mail_server(settings):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", listener.getsockname()[1]
        settings.EMAIL_TIMEOUT = 1
        yield


def test_a_send_from_a_page_gives_up_before_the_web_worker_would_be_killed(settings):
    assert 1 <= settings.EMAIL_TIMEOUT < GUNICORN_WORKER_TIMEOUT_SECONDS


def test_adding_staff_with_the_mail_server_hung_answers_and_leaves_no_unsent_link(cast, client_for, hung_mail_server):
    started = time.monotonic()
    response = client_for(cast.admin).post(reverse("accounts:staff"), STAFF, follow=True)
    assert time.monotonic() - started < 10
    page = response.content.decode()
    assert response.status_code == 200 and "no set-up link went out" in page
    user = get_user_model().objects.get(username="dr.new")
    assert not AccountLink.objects.filter(user=user, expires_at__gt=timezone.now()).exists()
