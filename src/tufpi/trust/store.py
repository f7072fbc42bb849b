"""Metadata files in storage, under ``tuf/``, in the order that keeps the repository valid.

Versioned files (``N.ROLE.json``) are written before anything refers to them; the unversioned
``timestamp.json`` is replaced last and atomically, so a client reading at any instant finds a
complete set (storage writes are atomic renames).
"""

from __future__ import annotations

from typing import Any

from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp
from tuf.api.serialization.json import JSONSerializer

from tufpi.storage import Storage
from tufpi.trust import layout

_SERIALIZER = JSONSerializer(compact=True)


class MetadataStore:
    """Read and write TUF metadata files in a storage backend."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def free_version(self, role: str, version: int) -> int:
        """``version``, or the first later one whose file does not exist yet.

        A batch that crashed before its timestamp left versioned files nobody refers to; the
        next batch skips past them instead of rewriting them, since a CDN may already have
        cached those names as immutable. TUF only requires versions to increase.
        """
        while self.storage.exists(layout.metadata_key(role, version)):
            version += 1
        return version

    def write_versioned(self, role: str, md: Metadata[Any], durable: bool = True) -> bytes:
        """Write ``tuf/VERSION.ROLE.json``; returns the bytes written. With ``durable=False``
        the file reaches the disk at the next ``storage.sync()``, which must come before any
        file naming it is written."""
        data = md.to_bytes(_SERIALIZER)
        self.storage.put_bytes(layout.metadata_key(role, md.signed.version), data, durable=durable)
        return data

    def write_root(self, md: Metadata[Root]) -> bytes:
        """Roots are kept forever as ``N.root.json``; ``root.json`` is a copy of the newest."""
        data = self.write_versioned(Root.type, md)
        self.storage.put_bytes(layout.metadata_key(Root.type), data)
        return data

    def write_timestamp(self, md: Metadata[Timestamp]) -> bytes:
        """Atomically replace ``timestamp.json``: the moment a new snapshot becomes current."""
        data = md.to_bytes(_SERIALIZER)
        self.storage.put_bytes(layout.metadata_key(Timestamp.type), data)
        return data

    def read_bytes(self, role: str, version: int | None = None) -> bytes:
        with self.storage.open(layout.metadata_key(role, version)) as f:
            return f.read()

    def read(self, role: str, version: int | None = None) -> Metadata[Any]:
        return Metadata.from_bytes(self.read_bytes(role, version))

    def timestamp(self) -> Metadata[Timestamp]:
        md: Metadata[Timestamp] = self.read(Timestamp.type)
        return md

    def snapshot(self, version: int) -> Metadata[Snapshot]:
        md: Metadata[Snapshot] = self.read(Snapshot.type, version)
        return md

    def root(self) -> Metadata[Root]:
        md: Metadata[Root] = self.read(Root.type)
        return md

    def exists(self) -> bool:
        return self.storage.exists(layout.metadata_key(Timestamp.type))
