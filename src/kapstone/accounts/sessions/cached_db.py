"""The cached-database session store (Redis in front of the database), pushing the idle expiry forward without
waiting for the disk (see the package)."""

from django.contrib.sessions.backends import cached_db

from kapstone.accounts.sessions import db


# The database store's save() first, which wraps cached_db's (the row, then the cache).
class SessionStore(db.SessionStore, cached_db.SessionStore):
    pass
