"""The repository's scripts (scripts/*.py, run from the command line rather than installed), loaded as modules by
the tests that check them or drive the server with them. Each load is a fresh module, so a test may patch it."""

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
