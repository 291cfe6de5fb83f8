"""The signed-in user and their verified second factor, read on every request by statements written once
(kapstone.accounts.signed_in): the same rows, with the same checks, as Django's ModelBackend and django-otp read."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.accounts.signed_in import RowByPrimaryKey, SignedInUserBackend
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def every_column(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_a_row_reads_as_the_orm_reads_it_with_every_column_converted(cast):
    user = get_user_model().objects.get(pk=cast.bob.pk)
    user.last_login = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    user.save()
    read = RowByPrimaryKey(get_user_model()).get(user.pk)
    assert every_column(read) == every_column(get_user_model().objects.get(pk=user.pk))
    assert read.last_login.tzinfo is not None and read._state.adding is False and read._state.db == "default"
    device = TOTPDevice.objects.get(user=cast.bob)
    assert model_to_dict(RowByPrimaryKey(TOTPDevice).get(device.pk)) == model_to_dict(device)


def test_a_key_no_row_has_reads_as_none_and_the_statement_is_written_once(cast):
    users = RowByPrimaryKey(get_user_model())
    assert users.get(10**9) is None
    with CaptureQueriesContext(connection) as queries:
        assert users.get(cast.bob.pk).username == "bob"
        assert users.get(cast.nurse.pk).username == "nina"
    assert len(queries) == 2 and queries[0]["sql"].split("WHERE")[0] == queries[1]["sql"].split("WHERE")[0]


def test_the_backend_refuses_an_inactive_user_as_django_does(cast):
    backend = SignedInUserBackend()
    assert backend.get_user(cast.bob.pk) == cast.bob
    get_user_model().objects.filter(pk=cast.bob.pk).update(is_active=False)
    assert backend.get_user(cast.bob.pk) is None
    assert backend.get_user(10**9) is None


def test_a_deactivated_or_signed_out_everywhere_user_is_signed_out_on_their_next_request(cast):
    client = signed_in_client(cast.bob)
    assert client.get("/home/").status_code == 200
    get_user_model().objects.filter(pk=cast.bob.pk).update(session_generation=1)
    response = client.get("/home/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def verified_device(client):
    response = client.get("/home/")
    return response.wsgi_request.user.otp_device, response


def test_the_session_s_confirmed_device_verifies_the_staff_member(cast):
    device, response = verified_device(signed_in_client(cast.bob))
    assert response.status_code == 200 and device == TOTPDevice.objects.get(user=cast.bob)
    assert isinstance(device, TOTPDevice) and device.confirmed


@pytest.mark.parametrize(
    "persistent_id",
    [
        "otp_totp.totpdevice/999999999",  # no such device
        "otp_totp.totpdevice/not-a-number",
        "otp_totp.nosuchmodel/1",
        "no-dot/1",
        "accounts.user/1",  # a model that is not a device
        "",
    ],
)
def test_a_session_naming_no_device_verifies_nobody(cast, persistent_id):
    client = signed_in_client(cast.bob)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = persistent_id
    session.save()
    device, response = verified_device(client)
    assert device is None and response.status_code != 200


def test_another_user_s_device_or_an_unconfirmed_one_verifies_nobody(cast):
    client = signed_in_client(cast.bob)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=cast.charlie).persistent_id
    session.save()
    assert verified_device(client)[0] is None
    # django-otp forgets a device that does not verify the session, so the next request reads none.
    assert DEVICE_ID_SESSION_KEY not in client.session

    client = signed_in_client(cast.bob)
    TOTPDevice.objects.filter(user=cast.bob).update(confirmed=False)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=cast.bob).persistent_id
    session.save()
    assert verified_device(client)[0] is None


def test_each_kind_of_device_is_read_as_its_own_model(cast):
    backup = StaticDevice.objects.create(user=cast.bob, name="backup", confirmed=True)
    client = signed_in_client(cast.bob)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = backup.persistent_id
    session.save()
    device, response = verified_device(client)
    assert response.status_code == 200 and isinstance(device, StaticDevice) and device.pk == backup.pk
