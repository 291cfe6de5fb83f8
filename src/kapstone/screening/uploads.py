"""Checks on a treatment team's reply file. The type is decided by the file's first bytes, never by its name or
the browser's claim, and the file extension it is stored under follows from that."""

from django.core.exceptions import ValidationError

MAX_REPLY_BYTES = 5 * 1024 * 1024
ALLOWED_KINDS = "PDF, PNG, JPEG or plain text"

# (leading bytes, content type, extension)
_SIGNATURES = [
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
]


def _is_plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def reply_file_kind(uploaded) -> tuple[str, str]:
    """(content type, extension) for an acceptable reply file; ValidationError with a clear message otherwise."""
    if uploaded.size > MAX_REPLY_BYTES:
        raise ValidationError(f"The file is {uploaded.size / 1024 / 1024:.1f} MB; the limit is 5 MB.")
    if uploaded.size == 0:
        raise ValidationError("The file is empty.")
    uploaded.seek(0)
    data = uploaded.read()
    uploaded.seek(0)
    for magic, content_type, extension in _SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if _is_plain_text(data):
        return "text/plain", ".txt"
    raise ValidationError(f"Attach a {ALLOWED_KINDS} file; this file's content is none of those.")
