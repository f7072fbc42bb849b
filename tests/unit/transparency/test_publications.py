"""The Published entry of a TUF publication, from timestamp.json and its snapshot."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from tufpi.transparency.publications import publication_entry, timestamp_versions

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _timestamp(version: object, snapshot: object) -> bytes:
    signed = {
        "_type": "timestamp",
        "version": version,
        "meta": {"snapshot.json": {"version": snapshot}},
    }
    return json.dumps({"signed": signed, "signatures": []}).encode()


def test_entry_names_the_bytes_as_stored() -> None:
    timestamp, snapshot = _timestamp(7, 5), b'{"snapshot": 5}'
    entry = publication_entry(timestamp, snapshot, NOW)
    assert (entry.timestamp_version, entry.snapshot_version) == (7, 5)
    assert entry.timestamp_sha256 == hashlib.sha256(timestamp).hexdigest()
    assert entry.snapshot_sha256 == hashlib.sha256(snapshot).hexdigest()
    assert entry.time == NOW


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"signed": {}}', _timestamp("7", 5), _timestamp(7, None), _timestamp(True, 1)],
)
def test_not_a_timestamp(data: bytes) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        timestamp_versions(data)
