"""Encrypted backups of the whole database and the uploaded files, and their restore.

The archive is a tar of one JSON file per table (every column, exact: datetimes keep their microseconds, since
the audit trail's hashes cover them) and the uploads under media/. It is encrypted with Fernet in chunks, so a
large practice never holds the whole archive in memory:

    KAPSTONE-BACKUP-1\\n  then, repeated: 8-byte big-endian length, Fernet token of up to CHUNK_SIZE bytes.

Restore only inserts. The audit trail and the controlled-substance ledger have triggers that refuse UPDATE and
DELETE, and the audit chain head may only be created at the start of the chain and advanced one entry at a
time: restore creates it there and walks it along the restored entries, so the database checks the chain again.
"""

import base64
import datetime
import decimal
import io
import json
import os
import struct
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

from kapstone.audit.models import AuditChainHead, AuditEvent, chain_start

MAGIC = b"KAPSTONE-BACKUP-1\n"
CHUNK_SIZE = 16 * 1024 * 1024
FORMAT_VERSION = 1
# Tables Django fills itself when it migrates an empty database: their rows do not make it "not empty".
FRAMEWORK_TABLES = {"django_content_type", "auth_permission"}
CHAIN_HEAD = "audit.auditchainhead"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def fernet_from(key: str) -> Fernet:
    if not key:
        raise BackupError(
            "KAPSTONE_BACKUP_KEY is not set. Generate one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' "
            "and keep it apart from the backups."
        )
    try:
        return Fernet(key.encode())
    except ValueError:
        raise BackupError("KAPSTONE_BACKUP_KEY is not a Fernet key (32 url-safe base64-encoded bytes).") from None


def _models():
    """Every table Django manages, including the automatic many-to-many tables, in a stable order."""
    return sorted(
        (m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy),
        key=lambda m: m._meta.label_lower,
    )


def _encode(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return {"$t": type(value).__name__, "v": value.isoformat()}
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return {"$t": "timedelta", "v": value.total_seconds()}
    if isinstance(value, bytes | memoryview):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(field, value):
    if isinstance(value, dict) and "$t" in value and set(value) == {"$t", "v"}:
        kind, raw = value["$t"], value["v"]
        if kind == "datetime":
            return datetime.datetime.fromisoformat(raw)
        if kind == "date":
            return datetime.date.fromisoformat(raw)
        if kind == "time":
            return datetime.time.fromisoformat(raw)
        if kind == "timedelta":
            return datetime.timedelta(seconds=raw)
        if kind == "bytes":
            return base64.b64decode(raw)
    if value is None or field.get_internal_type() == "JSONField":
        return value
    return field.to_python(value)


def _table_rows(model) -> list[list]:
    fields = model._meta.concrete_fields
    rows = model._base_manager.order_by("pk").values_list(*[f.attname for f in fields])
    return [[_encode(value) for value in row] for row in rows.iterator(chunk_size=2000)]


def _media_files(storage, directory: str = "") -> Iterator[str]:
    try:
        folders, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield str(PurePosixPath(directory, name)) if directory else name
    for folder in folders:
        yield from _media_files(storage, str(PurePosixPath(directory, folder)) if directory else folder)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _member_bytes(archive: tarfile.TarFile, member: str | tarfile.TarInfo) -> bytes:
    """What a file in the archive holds. Only a damaged or hand-made archive has a directory or a link where a
    backup writes a file."""
    handle = archive.extractfile(member)
    if handle is None:
        name = member if isinstance(member, str) else member.name
        raise BackupError(f"The backup is damaged: {name} in it is not a file.")
    return handle.read()


@dataclass(frozen=True)
class BackupSummary:
    tables: int
    rows: int
    files: int


# Said about every this many uploaded files on a long copy (a practice's journal pictures run to thousands).
FILES_PER_PROGRESS = 200


def _silent(message: str) -> None:
    pass


def backup(*, out_path: str, key: str, progress: Callable[[str], None] = _silent) -> BackupSummary:
    """Writes an encrypted backup of a consistent snapshot of the database and the uploaded files, telling
    `progress` each table and every FILES_PER_PROGRESS files as it goes."""
    fernet = fernet_from(key)
    rows_total = 0
    files = 0
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with tempfile.TemporaryFile() as plain:
        with tarfile.open(fileobj=plain, mode="w") as archive, transaction.atomic():
            if snapshot:
                # One snapshot for every table, so the backup never holds a row whose parent it missed.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            models = _models()
            tables: dict[str, int] = {}
            manifest: dict[str, object] = {"format": FORMAT_VERSION, "vendor": connection.vendor, "tables": tables}
            for number, model in enumerate(models, 1):
                rows = _table_rows(model)
                progress(f"table {number}/{len(models)} {model._meta.label_lower}: {len(rows):,} rows")
                rows_total += len(rows)
                columns = [f.attname for f in model._meta.concrete_fields]
                tables[model._meta.label_lower] = len(rows)
                payload = json.dumps({"columns": columns, "rows": rows}, separators=(",", ":")).encode()
                _add_bytes(archive, f"tables/{model._meta.label_lower}.json", payload)
            for name in _media_files(default_storage):
                with default_storage.open(name, "rb") as handle:
                    _add_bytes(archive, f"media/{name}", handle.read())
                files += 1
                if files % FILES_PER_PROGRESS == 0:
                    progress(f"uploaded files: {files:,}")
            progress(f"uploaded files: {files:,} in all; encrypting")
            manifest["files"] = files
            _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
        plain.seek(0)
        partial = f"{out_path}.partial"
        with open(partial, "wb") as out:
            out.write(MAGIC)
            while chunk := plain.read(CHUNK_SIZE):
                token = fernet.encrypt(chunk)
                out.write(struct.pack(">Q", len(token)))
                out.write(token)
        # Only a complete file takes the name, so a failed backup never looks like a good one.
        os.replace(partial, out_path)
    return BackupSummary(tables=len(models), rows=rows_total, files=files)


def _decrypt_to(source, target, fernet: Fernet) -> None:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("This is not a Kapstone backup file.")
    while header := source.read(8):
        if len(header) != 8:
            raise BackupError("The backup file is cut short.")
        (length,) = struct.unpack(">Q", header)
        token = source.read(length)
        if len(token) != length:
            raise BackupError("The backup file is cut short.")
        try:
            target.write(fernet.decrypt(token))
        except InvalidToken:
            raise BackupError(
                "The backup cannot be decrypted with this KAPSTONE_BACKUP_KEY: the key is not the one it was made "
                "with, or the file is damaged."
            ) from None


def database_is_empty() -> bool:
    return not any(model._base_manager.exists() for model in _models() if model._meta.db_table not in FRAMEWORK_TABLES)


def _insert(model, columns: list[str], rows: list[list]) -> None:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise BackupError(
            f"{model._meta.label_lower} in the backup has columns this version does not know: {unknown}. Restore "
            "with the Kapstone version that made the backup, then upgrade."
        )
    objects = [model(**{c: _decode(fields[c], v) for c, v in zip(columns, row, strict=True)}) for row in rows]
    model._base_manager.bulk_create(objects, batch_size=500)


def _advance_chain_heads(rows: list[list], columns: list[str]) -> None:
    """Creates each chain's head at its start and moves it along its restored entries up to where the backup's head
    stood; the database refuses any step that does not follow the one before. An entry belongs to the chain whose
    newest entry it follows (audit.verification)."""
    chain_after: dict[str, int] = {}
    stops: dict[int, int] = {}
    for row in rows:
        head = dict(zip(columns, row, strict=True))
        AuditChainHead.objects.create(pk=head["id"], last_hash=chain_start(head["id"]), last_event_id=None)
        if head["last_event_id"] is not None:
            chain_after[chain_start(head["id"])] = head["id"]
            stops[head["id"]] = head["last_event_id"]
    if not stops:
        return
    steps = AuditEvent.objects.filter(pk__lte=max(stops.values())).order_by("pk")
    for event_id, prev_hash, event_hash in steps.values_list("pk", "prev_hash", "hash").iterator(chunk_size=2000):
        chain = chain_after.pop(prev_hash, None)
        if chain is None:  # an entry of a chain already at its head's entry: left for verify_audit to name
            continue
        AuditChainHead.objects.filter(pk=chain).update(last_hash=event_hash, last_event_id=event_id)
        if event_id < stops[chain]:
            chain_after[event_hash] = chain
    if chain_after:
        broken = sorted(chain_after.values())
        raise BackupError(
            f"The backup's audit trail breaks before its chain head's entry in chain {broken[0]}: an entry is missing "
            "or was altered. Restore from another backup."
        )


@dataclass(frozen=True)
class RestoreSummary:
    tables: int
    rows: int
    files: int


def restore(*, in_path: str, key: str, replace: bool, progress: Callable[[str], None] = _silent) -> RestoreSummary:
    """Restores a backup into this database and storage, telling `progress` each table and every
    FILES_PER_PROGRESS files as it goes."""
    fernet = fernet_from(key)
    progress("decrypting")
    with tempfile.TemporaryFile() as plain:
        with open(in_path, "rb") as source:
            _decrypt_to(source, plain, fernet)
        plain.seek(0)
        with tarfile.open(fileobj=plain, mode="r") as archive:
            manifest = json.loads(_member_bytes(archive, "manifest.json"))
            if manifest.get("format") != FORMAT_VERSION:
                raise BackupError(f"This backup's format ({manifest.get('format')}) is not one this version reads.")
            known = {model._meta.label_lower: model for model in _models()}
            missing = set(manifest["tables"]) - set(known)
            if missing:
                raise BackupError(f"The backup holds tables this version does not have: {sorted(missing)}.")
            if not replace and not database_is_empty():
                raise BackupError(
                    "The database is not empty. Restore into a freshly migrated database, or pass --replace to "
                    "erase everything in this one first."
                )
            # flush empties every table (TRUNCATE on PostgreSQL; on SQLite the audit app's flush lets its
            # guarded tables be emptied); the rows Django and the apps then re-create are replaced by the backup's.
            rows_total = 0
            with transaction.atomic():
                call_command("flush", interactive=False, verbosity=0)
                for model in known.values():
                    if model._base_manager.exists():
                        model._base_manager.all()._raw_delete(connection.alias)
                chain_head = None
                in_backup = [(label, model) for label, model in known.items() if label in manifest["tables"]]
                for number, (label, model) in enumerate(in_backup, 1):
                    table = json.loads(_member_bytes(archive, f"tables/{label}.json"))
                    progress(f"table {number}/{len(in_backup)} {label}: {len(table['rows']):,} rows")
                    rows_total += len(table["rows"])
                    if label == CHAIN_HEAD:
                        chain_head = table
                        continue
                    _insert(model, table["columns"], table["rows"])
                if chain_head is not None:
                    _advance_chain_heads(chain_head["rows"], chain_head["columns"])
                with connection.cursor() as cursor:
                    for statement in connection.ops.sequence_reset_sql(no_style(), list(known.values())):
                        cursor.execute(statement)
            files = 0
            for member in archive.getmembers():
                if member.isfile() and member.name.startswith("media/"):
                    name = member.name.removeprefix("media/")
                    if default_storage.exists(name):
                        default_storage.delete(name)
                    saved = default_storage.save(name, ContentFile(_member_bytes(archive, member)))
                    if saved != name:
                        raise BackupError(f"The uploaded file {name} could not be restored under its own name.")
                    files += 1
                    if files % FILES_PER_PROGRESS == 0:
                        progress(f"uploaded files: {files:,}")
    return RestoreSummary(tables=len(manifest["tables"]), rows=rows_total, files=files)
