import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapstone.audit.models import AuditEvent

LOGIN = "/accounts/login/"


def current_code(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key):06d}"


def test_staff_sign_in_with_password_and_code(cast):
    client = Client()
    response = client.post(
        LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": current_code(cast.bob)}
    )
    assert response.status_code == 302 and response.url == reverse("home:home")
    assert client.get(reverse("patients:detail", args=[cast.alice.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="login", actor_id=cast.bob.pk).exists()


def test_staff_without_a_code_are_asked_for_it_on_a_second_step(cast):
    client = Client()
    response = client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery"})
    assert response.url == reverse("accounts:sign_in_second_step")
    assert "Authenticator code" in client.get(response.url).content.decode()
    assert client.get(reverse("patients:list")).url.startswith(LOGIN)


def test_a_wrong_code_is_refused(cast):
    response = Client().post(LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": "000000"})
    assert response.status_code == 200
    assert "not right or has expired" in response.content.decode()


def test_patients_sign_in_without_a_code(cast):
    response = Client().post(LOGIN, {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("portal:home")


def test_repeated_failures_lock_the_account(cast, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "bob", "password": "wrong-password-123"})
    response = client.post(
        LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": current_code(cast.bob)}
    )
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()


def test_wrong_codes_count_towards_the_lockout(cast, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": "000000"})
    response = client.post(
        LOGIN, {"username": "bob", "password": "correct-horse-battery", "otp_token": current_code(cast.bob)}
    )
    assert response.status_code == 429


def test_staff_without_a_device_must_enrol_before_anything_else(cast):
    TOTPDevice.objects.filter(user=cast.bob).delete()
    client = Client()
    response = client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery"})
    assert response.url == reverse("accounts:two_factor_setup")
    assert client.get(reverse("patients:list")).url == reverse("accounts:two_factor_setup")
    page = client.get(reverse("accounts:two_factor_setup"))
    assert "QR code" in page.content.decode()
    assert '<button type="submit">Turn on two-factor sign-in</button>' in page.content.decode()
    device = TOTPDevice.objects.get(user=cast.bob)
    response = client.post(reverse("accounts:two_factor_setup"), {"otp_token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    assert client.get(reverse("patients:list")).status_code == 200


def test_a_confirmed_device_and_its_audit_row_land_together_or_not_at_all(cast, monkeypatch):
    from kapstone.audit import services as audit

    TOTPDevice.objects.filter(user=cast.bob).delete()
    client = Client()
    client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery"})
    client.get(reverse("accounts:two_factor_setup"))
    device = TOTPDevice.objects.get(user=cast.bob)

    def audit_trail_unavailable(**kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(audit, "record", audit_trail_unavailable)
    with pytest.raises(RuntimeError):
        client.post(reverse("accounts:two_factor_setup"), {"otp_token": f"{totp(device.bin_key):06d}"})
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed


def test_enrolment_refuses_a_wrong_code(cast):
    TOTPDevice.objects.filter(user=cast.bob).delete()
    client = Client()
    client.post(LOGIN, {"username": "bob", "password": "correct-horse-battery"})
    client.get(reverse("accounts:two_factor_setup"))
    response = client.post(reverse("accounts:two_factor_setup"), {"otp_token": "000000"})
    assert "does not match" in response.content.decode()
    assert client.get(reverse("patients:list")).status_code == 302


def test_next_urls_off_site_are_ignored(cast):
    response = Client().post(
        LOGIN + "?next=https://evil.example/",
        {"username": "alice", "password": "correct-horse-battery", "next": "https://evil.example/"},
    )
    assert response.url == reverse("portal:home")


def test_sign_out_ends_the_session(cast):
    client = Client()
    client.force_login(cast.alice_user)
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("portal:home")).status_code == 302


@pytest.mark.parametrize(
    "data", [{}, {"username": "x" * 500, "password": ""}, {"username": "bob", "otp_token": "x" * 50}]
)
def test_garbage_login_input_is_answered_calmly(cast, data):
    assert Client().post(LOGIN, data).status_code == 200
