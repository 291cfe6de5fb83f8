"""The cached-database session store (Redis in front of the database), pushing the idle expiry forward without
waiting for the disk (see the package)."""

import logging

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches

from kapstone.accounts.sessions import db

logger = logging.getLogger(__name__)


# The database store's save() first: a save that changes the session is cached_db's own (the row, then the cache).
class SessionStore(db.SessionStore, cached_db.SessionStore):
    def _push_expiry(self, using: str) -> None:
        super()._push_expiry(using)
        cache = caches[settings.SESSION_CACHE_ALIAS]  # the cache cached_db keeps its copies in
        # The cached copy lives as long as the session: its lifetime moves on with the row's, and its contents stay
        # as they are, as the row's do (a cache that cannot be reached leaves the row to answer, as in cached_db).
        try:
            cache.touch(self.cache_key, self.get_expiry_age())
        except Exception:
            logger.exception("Error saving to cache (%s)", cache)
