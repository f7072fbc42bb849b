"""What an index's storage holds beside what its database records: for the tests that kill,
refuse or starve uploads and check that nothing uncommitted is ever served or kept."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import httpx

from tests.support.state import query
from tufpi.index.records import dist_keys, file_key_of
from tufpi.storage._staging import key_of


def wheel(directory: Path, name: str, version: str, payload: bytes = b"") -> Path:
    """Write a small valid wheel (with ``payload`` as a stored member, for its size)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/payload.bin": payload,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": b"",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0)), content)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    path.write_bytes(buffer.getvalue())
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Holdings:
    """File rows of the database and files of the storage."""

    rows: dict[str, str]  # file key -> sha256
    visible: list[str]  # storage keys outside hidden directories
    staged: list[str]  # files in the staging area (lock files aside)

    def staged_keys(self) -> list[str]:
        """The keys the staged files are for."""
        keys = []
        for path in self.staged:
            # .staging/<owner>/<entry>[/<name>]
            parts = path.split("/")
            key = key_of(parts[2], parts[3] if len(parts) > 3 else None)
            if key is not None:
                keys.append(key)
        return keys

    def filenames(self) -> set[str]:
        return {key.rsplit("/", 1)[1] for key in self.rows}

    def unbacked(self) -> list[str]:
        """Visible distribution files that no row backs."""
        return [
            k for k in self.visible if k.startswith("packages/") and file_key_of(k) not in self.rows
        ]

    def missing(self) -> list[str]:
        """Keys that a row needs and the storage lacks."""
        visible = set(self.visible)
        return [
            k for key, sha in self.rows.items() for k in dist_keys(key, sha) if k not in visible
        ]


def holdings(database_url: str, storage: Path) -> Holdings:
    rows = {r[0]: r[1] for r in query(database_url, "SELECT path, sha256 FROM files")}
    visible, staged = [], []
    for path in storage.rglob("*"):
        if not path.is_file():
            continue
        key = path.relative_to(storage).as_posix()
        if key.startswith(".staging/"):
            if not key.endswith(".lock"):
                staged.append(key)
        elif not any(part.startswith(".") for part in key.split("/")):
            visible.append(key)
    return Holdings(rows, sorted(visible), sorted(staged))


def assert_consistent(database_url: str, storage: Path, base_url: str) -> Holdings:
    """No row without its files, no distribution file without its row, nothing staged; and
    every recorded file is served with its bytes."""
    held = holdings(database_url, storage)
    assert held.missing() == [], "rows without their files"
    assert held.unbacked() == [], "files without their rows"
    assert held.staged == [], "staged files left behind"
    for key, sha in held.rows.items():
        response = httpx.get(base_url + key, timeout=10)
        assert response.status_code == 200, key
        assert hashlib.sha256(response.content).hexdigest() == sha
    return held
