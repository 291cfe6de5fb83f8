"""Values read from what a person or a script sent (a query string, a posted field, a JSON file), checked before
they reach a query or a record."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

# A database's key is a 64-bit signed integer on both SQLite and PostgreSQL.
LARGEST_ROW_ID = 2**63 - 1


def row_id(value: object) -> int | None:
    """The id `value` names, or None when it names none. A value beyond the largest key makes the driver raise
    rather than find nothing, and `str.isdigit` passes digits `int` cannot read ("²"): so a value is an id only when
    it is plain ASCII decimal digits naming a key a table can hold."""
    if not isinstance(value, str) or not (0 < len(value) <= len(str(LARGEST_ROW_ID))):
        return None
    if not (value.isascii() and value.isdecimal()):
        return None
    number = int(value)
    return number if 0 < number <= LARGEST_ROW_ID else None


def same_site_address(request: HttpRequest, address: str | None) -> str:
    """`address` (a form's "next", a Referer) when it leads to a page of this site, else "": however another site is
    spelt ("//evil", "/\\evil", "https:evil", with a tab or a leading control character), Django's check refuses it.
    It must be a path ("/...") or a whole http(s) address: Django's redirect() reads anything else without a "/" or
    "." ("inf", "home:home") as the name of a view to reverse, and a name that is none was a server error."""
    if (
        address
        and (address.startswith("/") or urlsplit(address).scheme in ("http", "https"))
        and url_has_allowed_host_and_scheme(address, {request.get_host()}, require_https=request.is_secure())
    ):
        return address
    return ""


def storable_text(text: str) -> bool:
    """Whether `text` can be kept and written out: it holds no NUL (PostgreSQL refuses one in text and JSON) and no
    half of a surrogate pair (not a character, so no page or file can be written out as UTF-8 with it). A form's
    typed text can hold neither past Django's checks, but JSON spells both as escapes ("\\u0000", "\\ud800")."""
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


# The invisible controls that reorder the text around them when it is shown: the embeddings and overrides
# (U+202A-U+202E) and the isolates (U+2066-U+2069). "\u202elive" shows as "evil", and in a dose, a reading or a
# date the same reversal flips the digits a clinician reads. They carry no text of their own, so dropping them keeps
# every character typed, in the order typed. The marks U+200E and U+200F are kept: a right-to-left writer needs
# them to place punctuation beside a number, and a mark cannot reverse a run of letters or digits.
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_direction_controls(text: str) -> str:
    """`text` without the controls that reorder how it is shown (DIRECTION_CONTROLS)."""
    return DIRECTION_CONTROLS.sub("", text)


class BoundedUploadHandler(FileUploadHandler):
    """The first of settings.FILE_UPLOAD_HANDLERS: refuses a form with files whose body is longer than
    settings.MAX_UPLOAD_REQUEST_BYTES before any of it is read. Django bounds a form's typed fields
    (DATA_UPLOAD_MAX_MEMORY_SIZE) but not its files, which it writes to a temporary file on the server's disk before
    any form can look at their size: a signed-in visitor's gigabytes filled the disk. Refused as Django refuses an
    oversized form (RequestDataTooBig, answered 400)."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > settings.MAX_UPLOAD_REQUEST_BYTES:
            raise RequestDataTooBig(
                f"An upload of {content_length} bytes is beyond MAX_UPLOAD_REQUEST_BYTES "
                f"({settings.MAX_UPLOAD_REQUEST_BYTES})."
            )
        return None

    def receive_data_chunk(self, raw_data, start):
        return raw_data  # the next handler keeps the file

    def file_complete(self, file_size):
        return None
