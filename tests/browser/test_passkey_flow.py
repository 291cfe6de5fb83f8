"""A staff member adds a passkey and signs in with it, in Chromium with its virtual WebAuthn authenticator (the
DevTools protocol's WebAuthn domain stands in for a phone or a security key). The library's scripts come from
Kapstone's own static files under the strict CSP; any violation, script error or axe finding fails the test."""

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp_webauthn.models import WebAuthnCredential

from kapstone.audit.models import AuditEvent
from tests.browser.helpers import LISTEN_FOR_CSP, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def test_staff_enrol_a_passkey_and_sign_in_with_it(browser, live_server, cast, settings):
    # A passkey is bound to a host name, never an IP address: the demo's relying party is localhost.
    origin = live_server.url.replace("127.0.0.1", "localhost")
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [origin]
    context = browser.new_context(base_url=origin)
    context.add_init_script(LISTEN_FOR_CSP)
    page = context.new_page()
    page.set_default_timeout(15000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]
    axe = Axe()

    def check(label: str) -> None:
        page.wait_for_load_state("load")
        problems.extend(f"{label}: CSP violation: {v}" for v in page.evaluate("window.__cspViolations || []"))
        for violation in axe.run(page, options=WCAG_21_AA).response["violations"]:
            problems.append(f"{label}: axe {violation['id']}")

    sign_in(page, cast.bob)
    page.wait_for_url("**/home/**")
    page.get_by_role("link", name="Two-factor").click()
    page.get_by_text("You have no passkey yet").wait_for()
    check("two-factor page")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("button", name="Remove Passkey").wait_for()
    check("two-factor page with a passkey")
    assert WebAuthnCredential.objects.filter(user=cast.bob, confirmed=True).count() == 1
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out").wait_for()
    sign_in(page, cast.bob, with_code=False)
    page.wait_for_url("**/login/second-step/")
    page.get_by_role("button", name="Use my passkey").wait_for()
    check("second step")
    page.get_by_role("button", name="Use my passkey").click()
    page.wait_for_url("**/home/**")
    page.get_by_role("heading", name="Good day").wait_for()

    sign_in_event = AuditEvent.objects.filter(action="login", actor_id=cast.bob.pk).latest("id")
    assert json.loads(sign_in_event.detail)["method"] == "passkey"
    assert not problems, "\n".join(problems)
    context.close()
