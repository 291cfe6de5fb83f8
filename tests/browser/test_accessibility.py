"""Every main page of every role passes axe-core's WCAG 2.1 A and AA rules, logs no content-security-policy
violation (an inline style or script that the strict CSP blocks fails here instead of silently in a browser) and
fits its screen without scrolling sideways: staff pages on a session-room tablet, portal pages on a phone.

The pages are those of the demo practice (`kapstone seed_demo`), so they hold what a working day shows: groups, a
dosing room, alerts, charts, journals, creativity tasks. One test per audience keeps it to one seeding each.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from kapstone.accounts.roles import Role
from kapstone.creativity.models import Task
from kapstone.measures.models import CriticalAlert
from kapstone.patients.models import CareTeamMembership, Patient
from kapstone.program.models import Group, GroupSession
from tests.browser.helpers import LISTEN_FOR_CSP, sign_in
from tests.creativity.factories import due_task
from tests.measures.factories import due_assessment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# With the WCAG rules, axe's landmark-unique (a best practice, so outside those tags): two regions with one name, such
# as a wide table's scrolling box named after the section it sits in, cannot be told apart in a list of landmarks.
# Only violations are read, so axe reports passes, incomplete and inapplicable checks by one node each instead of
# every node (it runs the same rules and reports every violation in full either way).
WCAG_21_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {"landmark-unique": {"enabled": True}},
    "resultTypes": ["violations"],
}
PASSWORD = "correct-horse-battery"
# A page wider than the screen scrolls sideways as a whole (WCAG 2.1 1.4.10, reflow); a wide table scrolls in its
# own box instead. Measured against the layout width: a phone widens innerWidth to fit a page that overflows.
SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
# axe passes an aria-describedby that names a missing id as long as one id exists; a missing one is still a
# description nobody hears (the Django 5.2 `_helptext` / `_error` ids), so it is checked here as well.
DANGLING_DESCRIPTIONS = """
() => Array.from(document.querySelectorAll("[aria-describedby]")).flatMap((element) =>
  element.getAttribute("aria-describedby").split(/\\s+/).filter((id) => id && !document.getElementById(id))
    .map((id) => `${element.tagName.toLowerCase()}#${element.id} -> ${id}`))
"""


class Audit:
    """Visits pages in one browser context and collects every finding, so one run names them all."""

    def __init__(self, browser, base_url, *, phone=False):
        size = {"width": 390, "height": 844} if phone else {"width": 1024, "height": 768}
        self.context = browser.new_context(base_url=base_url, viewport=size, is_mobile=phone)
        self.context.add_init_script(LISTEN_FOR_CSP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20000)
        self.console_csp: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.console_csp.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        self.findings: list[str] = []
        self.scanned: list[str] = []
        self.axe = Axe()

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        if response is None or response.status != 200:
            self.findings.append(f"{url}: answered {response.status if response else 'nothing'}, not 200")
            return
        self.scan(url)

    def scan(self, label: str) -> None:
        """Checks the page as it stands (after a visit, or after clicking through to a state)."""
        self.page.wait_for_load_state("load")
        self.scanned.append(label)
        for violation in self.axe.run(self.page, options=WCAG_21_AA).response["violations"]:
            nodes = "; ".join(node["html"][:160] for node in violation["nodes"][:3])
            self.findings.append(
                f"{label}: axe {violation['id']} ({violation['impact']}, {len(violation['nodes'])}×): {nodes}"
            )
        for dangling in self.page.evaluate(DANGLING_DESCRIPTIONS):
            self.findings.append(f"{label}: aria-describedby names a missing id: {dangling}")
        if (overflow := self.page.evaluate(SIDEWAYS_SCROLL)) > 0:
            self.findings.append(f"{label}: the page is {overflow}px wider than the screen")
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self.findings.append(f"{label}: CSP violation: {violation}")
        self.findings += [f"{label}: console: {text}" for text in self.console_csp]
        self.console_csp.clear()

    def close(self):
        self.context.close()


def _password(user):
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def practice(db):
    """The demo practice, its first portal patient, and the staff who look after them."""
    call_command("seed_demo", patients=8, quiet_logins=True)
    patient = Patient.objects.filter(user__isnull=False).order_by("pk").first()
    team = {m.staff.role: m.staff for m in CareTeamMembership.objects.filter(patient=patient).select_related("staff")}
    lead = CareTeamMembership.objects.get(patient=patient, is_lead=True).staff
    User = get_user_model()
    now = timezone.now()
    sessions = GroupSession.objects.filter(kind=GroupSession.Kind.DOSING)
    return {
        "patient": patient,
        "prescriber": _password(lead),
        "therapist": _password(team[Role.THERAPIST]),
        "nurse": _password(team[Role.NURSE]),
        "admin": _password(User.objects.filter(role=Role.ADMIN).first()),
        "researcher": _password(User.objects.filter(role=Role.RESEARCHER).first()),
        "patient_user": _password(patient.user),
        "group": Group.objects.filter(enrolments__patient=patient).first() or Group.objects.first(),
        "dosing_session": min(sessions, key=lambda session: abs(session.starts_at - now)),
    }


def _report(audits: list[Audit]) -> str:
    findings = [finding for audit in audits for finding in audit.findings]
    scanned = sum(len(audit.scanned) for audit in audits)
    return f"{len(findings)} findings on {scanned} page states:\n" + "\n".join(findings)


REGION_NAMES = (
    "() => Array.from(document.querySelectorAll('[role=region]'), (region) => region.getAttribute('aria-label'))"
)


def test_a_wide_table_scrolls_in_a_region_named_apart_from_the_section_around_it(browser, live_server, cast):
    """The creativity page's tasks table, wider than a phone, sits in the section "Tasks": its scrolling box is a
    region too, and must not be a second landmark called "Tasks"."""
    due_task(cast.alice, Task.AUT)
    due_task(cast.alice, Task.DAT)
    audit = Audit(browser, live_server.url, phone=True)
    sign_in(audit.page, cast.bob)
    audit.page.wait_for_url("**/home/**")
    audit.visit(reverse("creativity:patient", kwargs={"patient_id": cast.alice.pk}))
    assert "Tasks (table)" in audit.page.evaluate(REGION_NAMES)
    assert audit.findings == []
    audit.close()


def test_every_staff_and_researcher_page_meets_wcag_21_aa_and_keeps_the_csp(browser, live_server, practice):
    patient = practice["patient"].pk
    audits = []

    prescriber = Audit(browser, live_server.url)
    audits.append(prescriber)
    sign_in(prescriber.page, practice["prescriber"])
    prescriber.page.wait_for_url("**/home/**")
    for name, kwargs in [
        ("home:home", {}),
        ("patients:list", {}),
        ("patients:detail", {"patient_id": patient}),
        ("screening:list", {}),
        ("screening:patient", {"patient_id": patient}),
        ("screening:intake", {"patient_id": patient}),
        ("program:groups", {}),
        ("program:group", {"group_id": practice["group"].pk}),
        ("dosing:sessions", {}),
        ("dosing:room", {"session_id": practice["dosing_session"].pk}),
        ("dosing:ledger", {}),
        ("measures:patient", {"patient_id": patient}),
        ("measures:alerts", {}),
        ("alerts:safety_plan", {"patient_id": patient}),
        ("alerts:rota", {}),
        ("integration:adherence", {}),
        ("integration:timeline", {"patient_id": patient}),
        ("creativity:patient", {"patient_id": patient}),
        ("outcomes:report", {}),
        ("practice:settings", {}),
        ("messaging:inbox", {}),
        ("messaging:patient_threads", {"patient_id": patient}),
    ]:
        prescriber.visit(reverse(name, kwargs=kwargs))
    alert = CriticalAlert.objects.order_by("pk").first()
    if alert is not None:
        prescriber.visit(reverse("alerts:detail", kwargs={"alert_id": alert.pk}))
    # A form sent back with its errors shows them beside each input; those must be named and described too.
    prescriber.visit(reverse("screening:intake", kwargs={"patient_id": patient}))
    prescriber.page.get_by_label("Assessment date").fill("")
    prescriber.page.get_by_role("button", name="Save and screen").click()
    prescriber.page.get_by_text("The intake cannot be saved yet").or_(
        prescriber.page.get_by_text("Some answers need attention")
    ).first.wait_for()
    prescriber.scan("intake form with errors")
    # The prescriber on call reads the alert queue, the rota and a patient's scores on a phone: those pages fit it too
    # (a filter of long choices, wide tables and the intake's lists widened the page). Their markup is scanned above.
    prescriber.page.set_viewport_size({"width": 390, "height": 844})
    for name, kwargs in [
        ("measures:alerts", {}),
        ("alerts:rota", {}),
        ("measures:patient", {"patient_id": patient}),
        ("screening:intake", {"patient_id": patient}),
        ("outcomes:report", {}),
    ]:
        prescriber.page.goto(reverse(name, kwargs=kwargs))
        if (overflow := prescriber.page.evaluate(SIDEWAYS_SCROLL)) > 0:
            prescriber.findings.append(f"{name} on a phone: the page is {overflow}px wider than the screen")

    for role, pages in [
        ("therapist", [("home:home", {}), ("integration:psychotherapy_notes", {"patient_id": patient})]),
        ("nurse", [("home:home", {}), ("dosing:room", {"session_id": practice["dosing_session"].pk})]),
        (
            "admin",
            [
                ("home:home", {}),
                ("accounts:staff", {}),
                ("accounts:security", {}),
                ("accounts:two_factor", {}),
                ("patients:audit", {"patient_id": patient}),
                ("billing:aging", {}),
                ("billing:account", {"patient_id": patient}),
                ("practice:settings", {}),
            ],
        ),
        (
            "researcher",
            [("home:home", {}), ("outcomes:report", {}), ("outcomes:research_export", {})],
        ),
    ]:
        audit = Audit(browser, live_server.url)
        audits.append(audit)
        sign_in(audit.page, practice[role])
        audit.page.wait_for_url("**/home/**")
        for name, kwargs in pages:
            audit.visit(reverse(name, kwargs=kwargs))
        if role == "admin":
            # A one-click action that cannot be undone asks on a page of its own first.
            audit.page.goto(reverse("accounts:staff"))
            audit.page.get_by_role("button", name="Deactivate").first.click()
            audit.page.get_by_role("heading", name="Deactivate").wait_for()
            audit.scan("staff action confirmation")

    for audit in audits:
        audit.close()
    assert not any(audit.findings for audit in audits), _report(audits)


def test_every_portal_page_meets_wcag_21_aa_and_keeps_the_csp_on_a_phone(browser, live_server, practice):
    signed_out = Audit(browser, live_server.url, phone=True)
    for name in ("accounts:login", "accounts:password_reset"):
        signed_out.visit(reverse(name))
    signed_out.close()

    phone = Audit(browser, live_server.url, phone=True)
    page = phone.page
    sign_in(page, practice["patient_user"], with_code=False)
    page.wait_for_url("**/portal/**")
    for name in [
        "portal:home",
        "integration:journal",
        "integration:journal_new",
        "portal:history",
        "integration:my_timeline",
        "creativity:my_tasks",
        "creativity:my_history",
        "messaging:my_threads",
        "alerts:my_safety_plan",
        "screening:portal",
        "integration:preferences",
    ]:
        phone.visit(reverse(name))

    # The questionnaire form, and the crisis page a high-risk answer leads to.
    screener = due_assessment(practice["patient"], "cssrs-screener")
    phone.visit(reverse("portal:questionnaire", kwargs={"assessment_id": screener.pk}))
    questions = page.locator("fieldset.question")
    for index in range(questions.count()):
        questions.nth(index).get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_role("heading", name="Help is available now").wait_for()
    phone.scan("crisis page")
    phone.close()

    audits = [signed_out, phone]
    assert not any(audit.findings for audit in audits), _report(audits)


DRAFT_KEYS = "Object.keys(localStorage).filter((key) => key.startsWith('kapstone:draft:'))"


def test_the_idle_sign_out_warns_ahead_and_a_half_written_journal_entry_survives_it(browser, live_server, cast):
    audit = Audit(browser, live_server.url, phone=True)
    page = audit.page
    # The page's clock is Playwright's, so fifteen minutes pass at once; the server's session is real.
    page.clock.install()
    sign_in(page, cast.alice_user, with_code=False)
    page.wait_for_url("**/portal/**")
    page.goto(reverse("integration:journal_new"))
    entry = page.get_by_label("Your entry")
    entry.fill("Halfway through writing about the session when the phone rang")

    page.reload()
    assert entry.input_value() == "Halfway through writing about the session when the phone rang"
    page.get_by_text("Restored the draft you had not sent").wait_for()

    page.clock.fast_forward("13:30")
    warning = page.get_by_role("dialog", name="Are you still there?")
    warning.wait_for()
    audit.scan("idle warning")
    with page.expect_response("**" + reverse("accounts:keep_alive")) as answer:
        warning.get_by_role("button", name="Stay signed in").click()
    assert answer.value.status == 200
    warning.wait_for(state="hidden")

    # Ignored, the warning signs out when the time is up; the draft stays for the return.
    page.clock.fast_forward("13:30")
    warning.wait_for()
    page.clock.fast_forward("02:00")
    page.wait_for_url("**" + reverse("accounts:login") + "**")
    assert len(page.evaluate(DRAFT_KEYS)) == 1
    sign_in(page, cast.alice_user, with_code=False)
    page.wait_for_url("**/portal/**")
    page.goto(reverse("integration:journal_new"))
    assert entry.input_value() == "Halfway through writing about the session when the phone rang"

    page.get_by_role("button", name="Save entry").click()
    page.get_by_text("Saved your entry").wait_for()
    assert page.evaluate(DRAFT_KEYS) == []

    # Signing out on purpose leaves nothing a patient wrote on the device.
    page.goto(reverse("integration:journal_new"))
    entry.fill("Something private")
    assert len(page.evaluate(DRAFT_KEYS)) == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**" + reverse("accounts:login") + "**")
    assert page.evaluate(DRAFT_KEYS) == []
    audit.close()
    assert not audit.findings, "\n".join(audit.findings)
