"""Django's flush, allowed to empty the audit tables on SQLite (see kapstone.audit.db): it is the equivalent of
the TRUNCATE that empties them on PostgreSQL, where row triggers do not fire either."""

from django.core.management.commands.flush import Command as DjangoFlush

from kapstone.audit.db import emptying_database


class Command(DjangoFlush):
    def handle(self, **options):
        with emptying_database():
            return super().handle(**options)
