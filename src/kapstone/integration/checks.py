"""A start-up check of the notes key, so a key that is not a Fernet key stops `kapstone check` (and `check
--deploy`, `migrate`, `runserver`) instead of surfacing as a therapist's page that cannot save a note."""

from django.conf import settings
from django.core import checks

from kapstone.integration.crypto import NotesKeyError, parse_keys


@checks.register(checks.Tags.security)
def notes_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        parse_keys(settings.NOTES_ENCRYPTION_KEY)
    except NotesKeyError as error:
        return [checks.Error(str(error), id="integration.E001")]
    return []
