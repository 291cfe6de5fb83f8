import fcntl
import os

import pytest

from tests.faults.processes import migrate


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A migrated SQLite database, made once a run: each kill test's practice starts from a copy, since migrating
    takes longer than the test itself. Under pytest-xdist the workers share the run's temporary folder, so the
    first worker to need it migrates while the other waits for it instead of migrating too."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "migrated"
    folder.mkdir(exist_ok=True)
    database = folder / "kapstone.sqlite3"
    done = folder / "done"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            migrate(f"sqlite:///{database}", folder)
            done.touch()
    return database
