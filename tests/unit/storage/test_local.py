"""The local directory storage backend (tufpi.storage.local)."""

from __future__ import annotations

import io
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tufpi.storage import LocalStorage, Storage, StorageError

KEY = "packages/ab/cd/ef/demo-1.0.tar.gz"


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_satisfies_the_storage_interface(store: LocalStorage) -> None:
    backend: Storage = store
    assert backend.exists(KEY) is False


def test_put_bytes_then_read_back(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"content")
    assert store.exists(KEY)
    with store.open(KEY) as f:
        assert f.read() == b"content"
    assert store.local_path(KEY) == store.root / "packages/ab/cd/ef/demo-1.0.tar.gz"
    assert (store.root / KEY).read_bytes() == b"content"


def test_put_file_copies_the_rest_of_the_stream(store: LocalStorage) -> None:
    source = io.BytesIO(b"skip:" + b"x" * (3 * 1024 * 1024))
    source.read(5)
    store.put_file(KEY, source)
    assert (store.root / KEY).read_bytes() == b"x" * (3 * 1024 * 1024)


def test_written_files_are_world_readable(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"content")
    assert stat.S_IMODE((store.root / KEY).stat().st_mode) == 0o644


def test_overwrite_replaces_content(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"old")
    store.put_bytes(KEY, b"new")
    assert (store.root / KEY).read_bytes() == b"new"
    assert files_under(store.root) == [KEY]


class Exploding(io.RawIOBase):
    """A stream that yields some bytes, then fails: a client that disconnects mid-upload."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.calls += 1
        if self.calls > 2:
            raise ConnectionResetError("client went away")
        buffer[:4] = b"part"
        return 4


def test_failed_write_leaves_no_file_and_no_temp_file(store: LocalStorage) -> None:
    with pytest.raises(ConnectionResetError):
        store.put_file(KEY, Exploding())  # type: ignore[arg-type]
    assert not store.exists(KEY)
    assert files_under(store.root) == []


def test_failed_overwrite_keeps_the_old_content(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"old")
    with pytest.raises(ConnectionResetError):
        store.put_file(KEY, Exploding())  # type: ignore[arg-type]
    assert (store.root / KEY).read_bytes() == b"old"
    assert files_under(store.root) == [KEY]


def test_readers_never_see_a_partial_file(store: LocalStorage) -> None:
    seen: list[bool] = []

    class Watching(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 3

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            # While the copy runs, the key is either absent or (never) half written.
            seen.append(store.exists(KEY))
            if not self.left:
                return 0
            self.left -= 1
            buffer[:1] = b"z"
            return 1

    store.put_file(KEY, Watching())  # type: ignore[arg-type]
    assert seen
    assert not any(seen)
    assert (store.root / KEY).read_bytes() == b"zzz"


def test_open_missing_key_raises_file_not_found(store: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError):
        store.open(KEY)


def test_delete_removes_and_ignores_absent_keys(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"x")
    store.delete(KEY)
    assert not store.exists(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)


def test_keys_lists_files_sorted_and_skips_temp_files(store: LocalStorage) -> None:
    for key in ("packages/b/2.whl", "packages/a/1.whl", "simple/index.html"):
        store.put_bytes(key, b"x")
    (store.root / "packages/a/.tmp-abc").write_bytes(b"partial")
    assert list(store.keys()) == ["packages/a/1.whl", "packages/b/2.whl", "simple/index.html"]
    assert list(store.keys("packages/a")) == ["packages/a/1.whl"]
    assert list(store.keys("nothing/here")) == []


def test_dot_segments_that_stay_inside_are_normalised(store: LocalStorage) -> None:
    store.put_bytes("packages/./a//b.whl", b"x")
    assert store.exists("packages/a/b.whl")


HOSTILE_KEYS = {
    "parent": "../escape",
    "nested parent": "packages/../../escape",
    "inner parent": "packages/a/../b",
    "absolute": "/etc/passwd",
    "nul": "packages/a\x00b",
    "empty": "",
    "dot": ".",
}


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
@pytest.mark.parametrize(
    "operation",
    [
        lambda s, k: s.put_bytes(k, b"x"),
        lambda s, k: s.put_file(k, io.BytesIO(b"x")),
        lambda s, k: s.exists(k),
        lambda s, k: s.local_path(k),
        lambda s, k: s.open(k),
        lambda s, k: s.delete(k),
    ],
    ids=["put_bytes", "put_file", "exists", "local_path", "open", "delete"],
)
def test_hostile_keys_are_refused(
    tmp_path: Path, key: str, operation: Callable[[LocalStorage, str], object]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "escape").write_bytes(b"outside")
    with pytest.raises(StorageError, match="refusing storage key"):
        operation(LocalStorage(root), key)
    assert (tmp_path / "escape").read_bytes() == b"outside"
    assert files_under(root) == []
