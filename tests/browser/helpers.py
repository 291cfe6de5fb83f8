from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

# Registered before any of the page's own code runs, so a violation while the page is parsed is caught too.
LISTEN_FOR_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  (window.__cspViolations = window.__cspViolations || []).push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`
  );
});
"""


def sign_in(page, user, *, with_code=True):
    """Signs in through the real login form, typing the current two-factor code for staff."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    if with_code:
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        page.get_by_label("Authenticator code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Sign in").click()
