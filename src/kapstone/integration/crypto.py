"""Encryption at rest for psychotherapy notes, with a key from the environment (settings.NOTES_ENCRYPTION_KEY)."""

import base64
import binascii

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_HKDF_INFO = b"kapstone psychotherapy notes v1"


def fernet_key(secret: str) -> bytes:
    """The secret itself if it is already a Fernet key (32 url-safe base64 bytes), else a key derived from it.

    Deriving lets an operator set any long random string; the derivation is fixed so the same secret always
    opens the same notes.
    """
    try:
        if len(base64.urlsafe_b64decode(secret.encode())) == 32:
            return secret.encode()
    except (binascii.Error, ValueError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


def _fernet() -> Fernet:
    return Fernet(fernet_key(settings.NOTES_ENCRYPTION_KEY))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
