"""Staged writes of the local storage: invisible until published, swept after a kill."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tufpi.storage import LocalStorage, StagedWrites, StorageError, StorageFull, is_disk_full

KEY = "packages/ab/cd/ef/demo-1.0.tar.gz"


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def staged_files(store: LocalStorage) -> list[str]:
    """Files in the staging area other than the owners' lock files."""
    return [f for f in files_under(store.root / ".staging") if not f.endswith(".lock")]


def test_staged_content_is_invisible_until_published(store: LocalStorage) -> None:
    staged = store.stage(KEY, b"content")
    assert not store.exists(KEY)
    assert list(store.keys()) == []
    assert len(staged_files(store)) == 1
    store.publish(staged)
    assert (store.root / KEY).read_bytes() == b"content"
    assert list(store.keys()) == [KEY]
    assert staged_files(store) == []
    store.publish(staged)  # published already: ignored
    assert (store.root / KEY).read_bytes() == b"content"


def test_discard_leaves_nothing(store: LocalStorage) -> None:
    staged = store.stage(KEY, b"content")
    store.discard(staged)
    assert not store.exists(KEY)
    assert staged_files(store) == []
    assert list((store.root / "packages").iterdir()) == []  # its hash directories too


def test_a_twin_discarded_during_the_publication_leaves_the_file_published(
    store: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file uploaded through two web nodes at once (test_many_nodes' twins): one node
    commits it and publishes; the other finds it stored and discards its own staged copies
    (file, alias, .metadata), each discard pruning the hash directories, empty until the
    first rename lands. Here one discard runs just before each rename: the publication
    used to give up at the second and leave the committed file unserved (a 404)."""
    other_node = LocalStorage(store.root)
    won = store.stage(KEY, b"wheel")
    lost = [other_node.stage(k, b"wheel") for k in (KEY, f"{KEY}.alias", f"{KEY}.metadata")]
    rename = os.replace

    def rename_after_a_discard(source: str, target: Path) -> None:
        if lost:
            other_node.discard(lost.pop(0))
        rename(source, target)

    monkeypatch.setattr(os, "replace", rename_after_a_discard)
    store.publish(won)
    monkeypatch.undo()
    assert lost == []  # every discard ran in the middle of the publication
    assert (store.root / KEY).read_bytes() == b"wheel"
    assert staged_files(store) == []


def test_staging_a_file_of_the_same_file_system_links_it(store: LocalStorage) -> None:
    scratch = store.scratch_dir()
    assert scratch.is_relative_to(store.root / ".staging")
    upload = scratch / "upload"
    upload.write_bytes(b"wheel")
    upload.chmod(0o600)
    store.publish(store.stage(KEY, upload))
    published = store.root / KEY
    assert published.stat().st_ino == upload.stat().st_ino  # no copy
    assert stat.S_IMODE(published.stat().st_mode) == 0o644


def test_staging_a_file_of_another_file_system_copies_it(
    store: LocalStorage, tmp_path: Path
) -> None:
    source = tmp_path / "elsewhere"
    source.write_bytes(b"wheel")
    store.publish(store.stage(KEY, source))
    assert (store.root / KEY).read_bytes() == b"wheel"


def test_unpublish_hides_a_key_until_published_again(store: LocalStorage) -> None:
    store.put_bytes(KEY, b"content")
    staged = store.unpublish(KEY)
    assert staged is not None
    assert not store.exists(KEY)
    store.publish(staged)
    assert store.exists(KEY)
    assert store.unpublish("packages/absent") is None


def test_staged_writes_publish_in_order_and_discard(store: LocalStorage) -> None:
    writes = StagedWrites(store)
    writes.stage("a/1", b"1")
    writes.stage("a/2", b"2")
    assert writes.keys == ["a/1", "a/2"]
    writes.publish()
    assert list(store.keys()) == ["a/1", "a/2"]
    writes.stage("a/3", b"3")
    writes.discard()
    assert list(store.keys()) == ["a/1", "a/2"]
    assert staged_files(store) == []


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "", "packages/../../x"])
def test_hostile_keys_are_refused(store: LocalStorage, key: str) -> None:
    with pytest.raises(StorageError, match="refusing storage key"):
        store.stage(key, b"x")
    with pytest.raises(StorageError, match="refusing storage key"):
        store.unpublish(key)


def _killed_writer(root: Path) -> None:
    """Stage a write and leave a temp file in another process, then SIGKILL it."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from tufpi.storage import LocalStorage\n"
        "store = LocalStorage(Path(sys.argv[1]))\n"
        f"store.stage({KEY!r}, b'orphan')\n"
        "(store.scratch_dir() / 'tufpi-upload-x').write_bytes(b'body')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(root)], check=False)
    assert result.returncode == -signal.SIGKILL


def test_entries_of_a_killed_writer_are_reported_dead(store: LocalStorage) -> None:
    _killed_writer(store.root)
    mine = store.stage("packages/mine", b"live")
    entries = list(store.staged_entries(time.time()))
    by_key = {e.staged.key: e for e in entries}
    assert set(by_key) == {KEY, "packages/mine"}
    assert by_key[KEY].writer_alive is False
    assert by_key["packages/mine"].writer_alive is True
    assert by_key["packages/mine"].staged == mine
    store.discard(by_key[KEY].staged)
    # Once a dead owner's entries are gone, its directory and scratch files go too.
    assert [e.staged for e in store.staged_entries(time.time())] == [mine]
    assert staged_files(store) == [mine.handle]
    assert sorted(p.name for p in (store.root / ".staging").iterdir()) == [
        mine.handle.split("/")[0],
        mine.handle.split("/")[0] + ".lock",
    ]


def test_clear_scratch_takes_dead_and_old_files_only(store: LocalStorage) -> None:
    _killed_writer(store.root)
    scratch = store.scratch_dir()
    (scratch / "young").write_bytes(b"in use")
    old = scratch / "old"
    old.write_bytes(b"stale")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert store.clear_scratch(time.time(), max_age=3600) == 2  # the dead one's and "old"
    assert sorted(p.name for p in scratch.iterdir()) == ["young"]


def test_disk_full_is_recognised_through_wrapping() -> None:
    wrapped = RuntimeError("publication failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert is_disk_full(wrapped)
    assert is_disk_full(StorageFull("full"))
    assert is_disk_full(Exception("(sqlite3.OperationalError) database or disk is full"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("nothing to do with disks"))


@pytest.mark.parametrize(
    "key", [KEY, "top", "simple/a~b%2F/index.html", f"packages/{'ab' * 32}/{'x' * 200}.whl"]
)
def test_a_staged_key_is_found_again_by_the_sweep(store: LocalStorage, key: str) -> None:
    staged = store.stage(key, b"x")
    assert [e.staged for e in store.staged_entries(time.time())] == [staged]
