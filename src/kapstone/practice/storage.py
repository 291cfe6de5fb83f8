"""Files that belong to a database row: a file stored for a row that is then not saved must not outlive it."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models.fields.files import FieldFile


@contextmanager
def removed_if_not_saved(stored: FieldFile) -> Iterator[None]:
    """Runs the database writes that go with a file already in storage; if they fail, the file is deleted, so
    no patient's upload is left in storage without its row and its audit entry. (A file is stored before its
    row because the row holds the file's final name.)"""
    try:
        yield
    except BaseException:
        if stored.name:
            stored.storage.delete(stored.name)
        raise
