"""Encryption at rest for psychotherapy notes.

settings.NOTES_ENCRYPTION_KEY (KAPSTONE_NOTES_KEY) holds one or more Fernet keys, comma-separated, the current one
first: new notes are encrypted under the first, and a note opens under any of them, so a key can be replaced
without a moment in which notes cannot be read (`kapstone rotate_notes_key` re-encrypts them under the first).
Each must be a real Fernet key (32 random bytes, url-safe base64; `kapstone rotate_notes_key --new-key` prints
one): a short secret stretched into a key would be guessable offline, so none is accepted (the check
integration.E001 stops start-up, and `check --deploy`, on a key that is not one).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class NotesKeyError(ValueError):
    """The configured notes key is not a list of Fernet keys: notes can be neither read nor written."""


class UnreadableNote(ValueError):
    """No configured key opens this note (it was written under a key since removed, or it is damaged)."""


def parse_keys(value: str) -> list[Fernet]:
    """The Fernet keys in a KAPSTONE_NOTES_KEY value, current first; NotesKeyError names what is wrong."""
    parts = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not parts:
        raise NotesKeyError("KAPSTONE_NOTES_KEY holds no key.")
    keys = []
    for position, part in enumerate(parts, start=1):
        try:
            keys.append(Fernet(part.encode()))
        except (ValueError, TypeError):
            raise NotesKeyError(
                f"Key {position} of KAPSTONE_NOTES_KEY is not a Fernet key (32 bytes in url-safe base64, 44 "
                "characters); generate one with `kapstone rotate_notes_key --new-key`."
            ) from None
    return keys


def configured_keys() -> list[Fernet]:
    return parse_keys(settings.NOTES_ENCRYPTION_KEY)


def _fernet() -> MultiFernet:
    return MultiFernet(configured_keys())


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableNote("No notes key opens this note.") from None


def reencrypt(token: str) -> str:
    """The same note encrypted under the current key (UnreadableNote if no key opens it)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise UnreadableNote("No notes key opens this note.") from None


def new_key() -> str:
    return Fernet.generate_key().decode()
