"""Where the log lives in storage (and so under ``/tlog/`` on the web), and the lookup
files' format: pure functions, no I/O.

- ``tlog/checkpoint``: the signed checkpoint (replaced atomically);
- ``tlog/tile/<L>/<N>[.p/<W>]``, ``tlog/tile/entries/<N>[.p/<W>]``: C2SP tlog-tiles;
- ``tlog/lookup/<sha256 hex of a target path>``: the leaf index of that target's ``file``
  entry in decimal, a newline, then the entry's exact bytes. Unsigned: a client checks the
  entry against the TUF target and its inclusion in a checkpoint it verified.
"""

from __future__ import annotations

import hashlib
import re

from tufpi.tlog import tiles

PREFIX = "tlog/"
CHECKPOINT_KEY = PREFIX + "checkpoint"
_LOOKUP = "lookup/"
_LOOKUP_NAME = re.compile(r"[0-9a-f]{64}")
# A lookup's first line: a leaf index (at most 2^63 - 1, 19 digits).
_MAX_INDEX_DIGITS = 19


def tile_key(tile: tiles.Tile) -> str:
    """The storage key of a tile's hashes."""
    return PREFIX + tile.path()


def bundle_key(tile: tiles.Tile) -> str:
    """The storage key of a level-0 tile's entry bundle."""
    return PREFIX + tile.entries_path()


def lookup_name(target_path: str) -> str:
    """The lookup file's name for a TUF target path: the hex SHA-256 of its UTF-8."""
    return hashlib.sha256(target_path.encode()).hexdigest()


def lookup_key(target_path: str) -> str:
    """The storage key of the lookup file for a TUF target path."""
    return PREFIX + _LOOKUP + lookup_name(target_path)


def lookup_content(index: int, entry: bytes) -> bytes:
    """A lookup file: the leaf index in decimal, a newline, the entry's bytes."""
    if index < 0:
        raise ValueError(f"a leaf index is not negative, not {index}")
    return f"{index}\n".encode() + entry


def parse_lookup(data: bytes) -> tuple[int, bytes]:
    """The leaf index and entry bytes of a lookup file.

    Raises:
        ValueError: the first line is not a decimal index (no sign, no leading zero).
    """
    line, newline, entry = data.partition(b"\n")
    if not newline or not line.isdigit() or len(line) > _MAX_INDEX_DIGITS:
        raise ValueError("a lookup file starts with a decimal leaf index and a newline")
    if len(line) > 1 and line.startswith(b"0"):
        raise ValueError("a lookup file's leaf index has a leading zero")
    return int(line), entry


def is_log_path(rest: str) -> bool:
    """Whether ``rest`` (a path below ``/tlog/``) names something the log publishes: the
    checkpoint, a tile or entry bundle in its one canonical spelling, or a lookup file.
    Anything else is never looked up in storage."""
    if rest == "checkpoint":
        return True
    if rest.startswith(_LOOKUP):
        return _LOOKUP_NAME.fullmatch(rest[len(_LOOKUP) :]) is not None
    if rest.startswith("tile/") and len(rest) < 100:
        try:
            tiles.parse_path(rest)
        except tiles.TileError:
            return False
        return True
    return False
