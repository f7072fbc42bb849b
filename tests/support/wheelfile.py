"""Wheels assembled in memory, for tests and benchmarks: the given files plus a RECORD that
lists each with its sha256 and size (PEP 376, PEP 427), every member dated 2020-01-01, so
the same files always give the same bytes."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping


def record_line(path: str, data: bytes) -> str:
    """A RECORD line: ``path,sha256=<urlsafe base64, unpadded>,<size>``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def zip_wheel(
    files: Mapping[str, bytes], info: str, compression: int = zipfile.ZIP_STORED
) -> bytes:
    """The wheel holding ``files`` and ``<info>/RECORD`` (``info``: its ``.dist-info``
    directory), in that order."""
    record = [record_line(p, d) for p, d in files.items()] + [f"{info}/RECORD,,"]
    members = {**files, f"{info}/RECORD": ("\n".join(record) + "\n").encode()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for path, data in members.items():
            archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()
