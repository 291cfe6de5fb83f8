"""The browser flows assert with Playwright's waiting `expect`, never with a one-off look.

`locator.is_visible()` answers at once, so right after a click it can read the page before the next one has
loaded: a test that passes on a quiet machine and fails in CI (it did, on the sign-in page).
"""

import ast
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
ONE_OFF_LOOKS = {"is_visible", "is_hidden"}


def one_off_looks(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            for call in ast.walk(node.test):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ONE_OFF_LOOKS
                ):
                    lines.append(node.lineno)
    return lines


def test_no_browser_flow_asserts_on_a_look_that_does_not_wait():
    found = {
        f"{path.name}:{line}": line
        for path in sorted(BROWSER_TESTS.glob("*.py"))
        for line in one_off_looks(path.read_text())
    }
    assert not found, f"use expect(locator).to_be_visible() instead of assert locator.is_visible(): {sorted(found)}"


def test_the_rule_finds_a_one_off_look():
    assert one_off_looks("assert page.get_by_text('x').is_visible()\nexpect(page).to_be_visible()\n") == [1]
