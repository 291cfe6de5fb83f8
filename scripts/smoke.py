"""The production smoke run, through HTTP only, against a started stack (gunicorn, a Celery worker and beat).

    python scripts/smoke.py --base http://127.0.0.1:8765 --mail-dir DIR --admin USER --password PASS

The first admin exists (kapstone setup_practice) and has no second factor yet. The run: health check; the admin
signs in and enrols an authenticator (codes computed here, RFC 6238), adds a prescriber and registers a patient
with the prescriber on the care team, and invites the patient to the portal; the patient sets a password from the
emailed link and signs in; the prescriber signs in, enrols, and starts a PHQ-9 for the patient; the worker, run by
beat, emails the patient a questionnaire link; the patient follows it and answers. Mail is read from the folder
Django's file-based email backend writes to. Standard library only, so it runs from any Python.
"""

import argparse
import base64
import hashlib
import hmac
import html
import http.cookiejar
import json
import re
import secrets
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

MAIL_WAIT_SECONDS = 90
PASSWORD = "smoke-test-passphrase-2026"  # noqa: S105 - a synthetic login made for this run


class SmokeFailure(Exception):
    pass


def totp(secret_b32: str, at: float | None = None) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def multipart(fields: dict, files: dict) -> tuple[bytes, dict[str, str]]:
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, values in fields.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    for name, (file_name, content_type, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One person's cookies; follows no redirects by itself, so each step can check where it was sent."""

    def __init__(self, base: str, name: str):
        self.base, self.name = base.rstrip("/"), name
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )
        self.csrf = ""

    def request(self, path: str, data: dict | None = None, files: dict | None = None) -> tuple[int, str, str]:
        """files: {field: (file name, content type, content)}, sent as a browser sends a form with a file."""
        url = path if path.startswith("http") else self.base + path
        body, headers = None, {}
        if files:
            body, headers = multipart({"csrfmiddlewaretoken": self.csrf, **(data or {})}, files)
        elif data is not None:
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf, **data}, doseq=True).encode()
        try:
            # noqa below: the URL is the stack this run started (http), never user input.
            request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
            with self.opener.open(request, timeout=30) as response:  # noqa: S310
                status, location, text = response.status, "", response.read().decode()
        except urllib.error.HTTPError as error:
            status, location, text = error.code, error.headers.get("Location", ""), error.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
        if token:
            self.csrf = token.group(1)
        return status, location, text

    def get(self, path: str, expect: int = 200) -> str:
        status, location, text = self.request(path)
        if status != expect:
            raise SmokeFailure(f"{self.name}: GET {path} gave {status} {location}, expected {expect}")
        return text

    def post(self, path: str, data: dict, expect_to: str | None = None, files: dict | None = None) -> str:
        """Posts and expects a redirect (to a path starting with expect_to, when given); returns where to."""
        status, location, text = self.request(path, data, files)
        if status != 302 or (expect_to and not urllib.parse.urlparse(location).path.startswith(expect_to)):
            errors = re.findall(r'class="(?:errorlist|message error)[^"]*">(.*?)</', text, re.S)
            raise SmokeFailure(f"{self.name}: POST {path} gave {status} {location}; {errors or text[:400]}")
        return location


def step(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def sign_in(browser: Browser, username: str, password: str, *, expect_to: str, totp_secret: str = "") -> None:
    """Signs in from the sign-in page; staff who have enrolled give the current code of their authenticator."""
    browser.get("/accounts/login/")
    fields = {"username": username, "password": password}
    if totp_secret:
        fields["otp_token"] = totp(totp_secret)
    browser.post("/accounts/login/", fields, expect_to)


def sign_in_and_enrol(browser: Browser, username: str, password: str) -> None:
    sign_in(browser, username, password, expect_to="/accounts/two-factor/setup/")
    page = browser.get("/accounts/two-factor/setup/")
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    browser.post("/accounts/two-factor/setup/", {"otp_token": totp(secret)}, "/home/")


def wait_for_mail(mail_dir: Path, to: str, containing: str, seen: set[Path]) -> str:
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.log")):
            if path in seen:
                continue
            text = path.read_text(errors="replace")
            if f"To: {to}" in text and containing in text:
                seen.add(path)
                return text
        time.sleep(1)
    raise SmokeFailure(f"no email to {to} containing {containing!r} within {MAIL_WAIT_SECONDS} s")


def run(base: str, mail_dir: Path, admin_username: str, admin_password: str) -> None:
    anonymous = Browser(base, "anonymous")
    health = json.loads(anonymous.get("/healthz"))
    if health != {"status": "ok", "database": "ok", "redis": "ok"}:
        raise SmokeFailure(f"health check: {health}")
    step("health check ok")

    admin = Browser(base, "admin")
    sign_in_and_enrol(admin, admin_username, admin_password)
    step("admin signed in with a TOTP code")
    admin.get("/accounts/staff/")
    staff = {
        "username": "dr.smoke",
        "first_name": "Sam",
        "last_name": "Smoke",
        "email": "dr.smoke@practice.example",
        "role": "prescriber",
        "credentials": "MD",
    }
    admin.post("/accounts/staff/", staff, "/accounts/staff/")
    seen: set[Path] = set()
    set_up = wait_for_mail(mail_dir, staff["email"], "/accounts/password/set/", seen)
    set_up_link = re.search(r"https?://\S+?(/accounts/password/set/[^/\s]+/)", set_up).group(1)
    prescriber_browser = Browser(base, "prescriber")
    prescriber_browser.get(set_up_link)
    prescriber_browser.post(set_up_link, {"new_password1": PASSWORD, "new_password2": PASSWORD}, "/accounts/login/")
    step("dr.smoke added and chose a password from the emailed set-up link")
    admin.get("/patients/new/")
    patient_fields = {
        "given_name": "Pat",
        "family_name": "Smoketest",
        "date_of_birth": "1984-03-09",
        "sex": "unknown",
        "email": "pat.smoketest@mail.example",
        "phone": "555-0100",
    }
    location = admin.post("/patients/new/", patient_fields, "/patients/")
    patient_id = int(re.search(r"/patients/(\d+)/", location).group(1))
    team_page = admin.get(f"/patients/{patient_id}/care-team/")
    option = re.search(r'name="staff" value="(\d+)"[^>]*>\s*Sam Smoke', team_page)
    if option is None:
        raise SmokeFailure("the care-team form does not offer dr.smoke")
    staff_id = option.group(1)
    admin.post(f"/patients/{patient_id}/care-team/", {"staff": [staff_id], "lead": staff_id}, "/patients/")
    step(f"patient {patient_id} registered with dr.smoke on the care team")

    admin.get(f"/patients/{patient_id}/")
    admin.post(f"/patients/{patient_id}/portal-invitation/", {}, f"/patients/{patient_id}/")
    invitation = wait_for_mail(mail_dir, patient_fields["email"], "/accounts/password/set/", seen)
    link = re.search(r"https?://\S+?(/accounts/password/set/[^/\s]+/)", invitation).group(1)
    step("portal invitation emailed")

    patient = Browser(base, "patient")
    patient.get(link)
    patient.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD}, "/accounts/login/")
    sign_in(patient, patient_fields["email"], PASSWORD, expect_to="/portal/")
    if "Hello, Pat" not in patient.get("/portal/"):
        raise SmokeFailure("the patient's portal does not greet them")
    step("patient set a password and signed in")

    sign_in_and_enrol(prescriber_browser, "dr.smoke", PASSWORD)
    prescriber_browser.get(f"/measures/patient/{patient_id}/")
    prescriber_browser.post(f"/measures/patient/{patient_id}/start/", {"start-instrument": "phq9"}, "/measures/")
    step("prescriber signed in with a TOTP code and started a PHQ-9")

    reminder = wait_for_mail(mail_dir, patient_fields["email"], "/portal/i/", seen)
    questionnaire_link = re.search(r"https?://\S+?(/portal/i/[^/\s]+/)", reminder).group(1)
    step("the worker emailed the questionnaire link")

    status, location, _ = patient.request(questionnaire_link)
    if status != 302 or "/portal/questionnaires/" not in location:
        raise SmokeFailure(f"the questionnaire link gave {status} {location}")
    form_path = urllib.parse.urlparse(location).path
    form = patient.get(form_path)
    answers: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*type="radio"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        answers.setdefault(html.unescape(name), html.unescape(value))
    if not answers:
        raise SmokeFailure("the questionnaire page has no answers to choose")
    patient.post(form_path, {**answers, "action": "submit"}, "/portal/")
    if "Thank you" not in patient.get("/portal/"):
        raise SmokeFailure("the portal did not thank the patient for the answers")
    step(f"patient answered the questionnaire ({len(answers)} items)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--mail-dir", required=True, type=Path)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--password", required=True)
    options = parser.parse_args()
    started = time.monotonic()
    try:
        run(options.base, options.mail_dir, options.admin, options.password)
    except (SmokeFailure, urllib.error.URLError, AttributeError) as problem:
        print(f"smoke: FAILED: {problem}", file=sys.stderr)
        return 1
    step(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
