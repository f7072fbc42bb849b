"""The ``Published`` entry of a TUF publication, from the files as they are stored.

After a publication the log records which timestamp and snapshot clients are now shown
(versions, and the sha256 of the very bytes served), so a monitor can tell a publication
the log did not record. The TUF files are read through the caller (``TufFiles``: the
metadata layout is ``tufpi.trust``'s); the parsing here is pure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from tufpi.tlog.entries import Published


@dataclasses.dataclass(frozen=True)
class TufFiles:
    """Reads the published TUF files: ``timestamp.json`` (FileNotFoundError before the
    first publication) and a snapshot by version."""

    timestamp: Callable[[], bytes]
    snapshot: Callable[[int], bytes]


def timestamp_versions(timestamp: bytes) -> tuple[int, int]:
    """The timestamp's version and the snapshot version it names.

    Raises:
        ValueError: not a TUF timestamp (the signer wrote it: this is a storage fault).
    """
    try:
        signed: Any = json.loads(timestamp)["signed"]
        version, snapshot = signed["version"], signed["meta"]["snapshot.json"]["version"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"timestamp.json is not a TUF timestamp: {e}") from e
    if type(version) is not int or type(snapshot) is not int:
        raise ValueError("timestamp.json's versions are not whole numbers")
    return version, snapshot


def publication_entry(timestamp: bytes, snapshot: bytes, when: dt.datetime) -> Published:
    """The ``Published`` entry for a timestamp and the snapshot it names, as stored."""
    version, snapshot_version = timestamp_versions(timestamp)
    return Published(
        timestamp_version=version,
        timestamp_sha256=hashlib.sha256(timestamp).hexdigest(),
        snapshot_version=snapshot_version,
        snapshot_sha256=hashlib.sha256(snapshot).hexdigest(),
        time=when,
    )
