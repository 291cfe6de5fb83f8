import pytest

from tests.faults.processes import migrate


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A migrated SQLite database, made once a session: each kill test's practice starts from a copy, since
    migrating takes longer than the test itself."""
    folder = tmp_path_factory.mktemp("migrated")
    database = folder / "kapstone.sqlite3"
    migrate(f"sqlite:///{database}", folder)
    return database
