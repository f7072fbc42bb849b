"""The log's entries: one per event the index publishes, as the bytes a leaf hashes.

An entry is one JSON object, encoded one way only (keys sorted, no spaces, ASCII with
``\\u`` escapes), so that the same event always has the same leaf hash and a monitor can
read it with any JSON parser. ``parse_entry`` refuses any other spelling of the same object,
an unknown kind, a missing or extra key and a value of the wrong type: a log whose entries
could be written two ways could show two parties two different leaves for one event.

Kinds (``kind`` key):

- ``file``: a file accepted (``via``: ``upload``, ``import`` or ``upstream``), with its TUF
  target path, sha256 and size, and who added it (``account``, ``token``: None when the
  path has no account, as an import or a mirrored file);
- ``yank`` / ``unyank``: a release (``filename`` None) or one file (un)yanked, with the reason;
- ``remove``: a file removed (a release's or project's removal logs each of its files);
- ``publication``: a TUF publication, the timestamp's and snapshot's versions and the
  sha256 of each file as published.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, ClassVar

# C2SP tlog-tiles entry bundles prefix each entry with a 16-bit length.
MAX_ENTRY_SIZE = 65535
_VIA = ("upload", "import", "upstream")
_HEX = frozenset("0123456789abcdef")


class EntryError(ValueError):
    """Bytes that are not one well-formed entry; the message says what is wrong."""


def format_time(when: dt.datetime) -> str:
    """UTC time with whole seconds, as entries spell it: ``2026-12-07T13:45:12Z``."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.replace(microsecond=0).isoformat() + "Z"


def _parse_time(text: str) -> dt.datetime:
    try:
        when = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as e:
        raise EntryError(f"the time {text!r} is not YYYY-MM-DDTHH:MM:SSZ") from e
    return when.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class FileAdded:
    """A file the index accepted and will sign as the target ``path``."""

    kind: ClassVar[str] = "file"
    project: str
    version: str
    filename: str
    path: str
    sha256: str
    size: int
    time: dt.datetime
    via: str
    account: str | None = None
    token: int | None = None


@dataclasses.dataclass(frozen=True)
class Yanked:
    """A release (``filename`` None) or one file yanked (``yanked``) or un-yanked."""

    project: str
    version: str
    yanked: bool
    time: dt.datetime
    filename: str | None = None
    reason: str | None = None
    account: str | None = None

    @property
    def kind(self) -> str:
        return "yank" if self.yanked else "unyank"


@dataclasses.dataclass(frozen=True)
class FileRemoved:
    """A file removed from the index: its target ``path`` is no longer signed."""

    kind: ClassVar[str] = "remove"
    project: str
    version: str
    filename: str
    path: str
    sha256: str
    time: dt.datetime
    account: str | None = None


@dataclasses.dataclass(frozen=True)
class Published:
    """A TUF publication: the timestamp and snapshot as written (versions, sha256)."""

    kind: ClassVar[str] = "publication"
    timestamp_version: int
    timestamp_sha256: str
    snapshot_version: int
    snapshot_sha256: str
    time: dt.datetime


Entry = FileAdded | Yanked | FileRemoved | Published

# kind -> (required keys and their types, optional keys and their types)
_STR, _INT, _OPT_STR, _OPT_INT = "str", "int", "str?", "int?"
_SCHEMA: dict[str, dict[str, str]] = {
    "file": {
        "project": _STR,
        "version": _STR,
        "filename": _STR,
        "path": _STR,
        "sha256": _STR,
        "size": _INT,
        "time": _STR,
        "via": _STR,
        "account": _OPT_STR,
        "token": _OPT_INT,
    },
    "yank": {
        "project": _STR,
        "version": _STR,
        "filename": _OPT_STR,
        "reason": _OPT_STR,
        "time": _STR,
        "account": _OPT_STR,
    },
    "remove": {
        "project": _STR,
        "version": _STR,
        "filename": _STR,
        "path": _STR,
        "sha256": _STR,
        "time": _STR,
        "account": _OPT_STR,
    },
    "publication": {
        "timestamp_version": _INT,
        "timestamp_sha256": _STR,
        "snapshot_version": _INT,
        "snapshot_sha256": _STR,
        "time": _STR,
    },
}
_SCHEMA["unyank"] = _SCHEMA["yank"]


def _fields(entry: Entry) -> dict[str, Any]:
    # Shallow (every field is a scalar): asdict's deep copy was half of encode_entry's time.
    fields = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    fields.pop("yanked", None)
    fields["time"] = format_time(entry.time)
    fields["kind"] = entry.kind
    return fields


def encode_entry(entry: Entry) -> bytes:
    """The entry's one encoding. Raises EntryError if it could not be parsed back (a bad
    hash, a negative size, an unknown ``via``, more than 65,535 bytes)."""
    data = json.dumps(_fields(entry), sort_keys=True, separators=(",", ":")).encode()
    parse_entry(data)
    return data


def parse_entry(data: bytes) -> Entry:
    """The entry ``data`` encodes, refusing (``EntryError``) anything else: not UTF-8 JSON,
    not canonical, an unknown kind, missing or extra keys, wrong types or values."""
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryError(f"an entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}")
    try:
        fields = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise EntryError(f"an entry is not JSON: {e}") from e
    if not isinstance(fields, dict):
        raise EntryError("an entry is not a JSON object")
    kind = fields.pop("kind", None)
    if kind not in _SCHEMA:
        raise EntryError(f"unknown entry kind {kind!r}")
    _check_schema(kind, fields)
    entry = _build(kind, fields)
    if json.dumps(_fields(entry), sort_keys=True, separators=(",", ":")).encode() != data:
        raise EntryError(f"a {kind} entry not in its one encoding (sorted keys, no spaces, ASCII)")
    return entry


def _check_schema(kind: str, fields: dict[str, Any]) -> None:
    schema = _SCHEMA[kind]
    if set(fields) != set(schema):
        missing = sorted(set(schema) - set(fields))
        extra = sorted(set(fields) - set(schema))
        raise EntryError(f"a {kind} entry with missing keys {missing} or extra keys {extra}")
    for key, expected in schema.items():
        value = fields[key]
        if value is None and expected.endswith("?"):
            continue
        wanted: type = int if expected.startswith("int") else str
        if type(value) is not wanted:  # bool is an int: refused here
            raise EntryError(f"{kind} entry: {key} is {value!r}, not {expected.rstrip('?')}")


def _build(kind: str, fields: dict[str, Any]) -> Entry:
    fields = {**fields, "time": _parse_time(fields["time"])}
    for key in ("sha256", "timestamp_sha256", "snapshot_sha256"):
        if key in fields:
            _check_sha256(kind, key, fields[key])
    for key in ("size", "timestamp_version", "snapshot_version", "token"):
        if fields.get(key) is not None and fields[key] < 0:
            raise EntryError(f"{kind} entry: {key} is negative")
    if kind == "file":
        if fields["via"] not in _VIA:
            raise EntryError(f"file entry: via is {fields['via']!r}, not one of {_VIA}")
        return FileAdded(**fields)
    if kind in ("yank", "unyank"):
        return Yanked(yanked=kind == "yank", **fields)
    if kind == "remove":
        return FileRemoved(**fields)
    return Published(**fields)


def _check_sha256(kind: str, key: str, value: str) -> None:
    if len(value) != 64 or not set(value) <= _HEX:
        raise EntryError(f"{kind} entry: {key} is not 64 lowercase hex digits")
