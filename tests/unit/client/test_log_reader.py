"""The client's log reader (``client.log_reader``) over a log built here and served from a
dict: the first checkpoint is kept (trust on first use, said once), a covered file costs
no checkpoint read, growth is checked and kept, a fork is saved as evidence and refused, a
rollback refused, a hostile kept checkpoint refused loudly, and bytes are counted."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tuf.api import exceptions

from tests.support.toy_log import ToyLog, target_path
from tufpi.client.log_checks import FileTarget
from tufpi.client.log_reader import LogReader
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import Location
from tufpi.tlog.tiles import Tile

URL = "https://index.example/tlog/"


class Served:
    """What the index serves under ``/tlog/``, and what the client read."""

    def __init__(self, log: ToyLog) -> None:
        self.log = log
        self.checkpoint = log.checkpoint()
        self.read: list[str] = []
        self.bytes = 0

    def publish(self) -> None:
        self.log.publish()
        self.checkpoint = self.log.checkpoint()

    def get(self, url: str, max_length: int) -> bytes:
        rest = url.removeprefix(URL)
        self.read.append(rest)
        data = self._body(rest)
        if data is None:
            raise exceptions.DownloadHTTPError(f"HTTP 404 for {url}", 404)
        if len(data) > max_length:
            raise exceptions.DownloadLengthMismatchError(f"{url} is too long")
        self.bytes += len(data)
        return data

    def _body(self, rest: str) -> bytes | None:
        if rest == "checkpoint":
            return self.checkpoint
        for tile, data in self.log.store.items():
            if tile.path() == rest:
                return data
        for index, entry in enumerate(self.log.leaves):
            name = _lookup_name(entry)
            if rest == f"lookup/{name}":
                return self.log.lookup(index)
        return None


def _lookup_name(entry: bytes) -> str | None:
    path = entry.split(b'"path":"')[1].split(b'"')[0] if b'"path":"' in entry else b""
    return hashlib.sha256(path).hexdigest()


def _target(number: int) -> FileTarget:
    return FileTarget(*target_path(number))


@pytest.fixture
def served() -> Served:
    log = ToyLog()
    log.add_files(0, 300)
    log.publish()
    return Served(log)


def _reader(served: Served, cache: Path, threshold: int = 2) -> LogReader:
    return LogReader(
        served.log.policy(threshold),
        served.get,
        URL,
        cache,
        now=lambda: dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC),
    )


def test_the_first_checkpoint_is_kept_and_covers_later_files(
    served: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = _reader(served, tmp_path)
    with caplog.at_level(logging.INFO, "tufpi.client"):
        reader.check_file(_target(3))
    assert "no checkpoint of index.example/tlog kept yet: trusting its current one" in caplog.text
    assert (tmp_path / "checkpoint").read_bytes() == served.checkpoint
    assert "transparency log: packages/" in caplog.text
    assert "is entry 3 of" in caplog.text
    served.read.clear()
    reader.check_file(_target(200))
    reader.check_file(_target(200))  # proven once: nothing read again
    assert served.read == [f"lookup/{hashlib.sha256(_target(200).path.encode()).hexdigest()}"]
    # A new reader (another run) starts from the kept checkpoint, and says nothing of trust.
    caplog.clear()
    served.read.clear()
    _reader(served, tmp_path).check_file(_target(299))
    assert "checkpoint" not in served.read
    assert "trusting" not in caplog.text
    stats = reader.stats
    assert (stats.files_checked, stats.checkpoints_fetched, stats.lookups_fetched) == (2, 1, 2)


def test_the_bytes_read_for_proofs_are_counted(served: Served, tmp_path: Path) -> None:
    reader = _reader(served, tmp_path)
    reader.check_file(_target(3))
    reader.check_file(_target(290))
    assert reader.stats.bytes_fetched == served.bytes > len(served.checkpoint)
    assert reader.stats.tiles_fetched == len([r for r in served.read if r.startswith("tile/")])
    assert "files proven: 2, bytes fetched for proofs: " in reader.stats.summary()


def test_a_file_past_the_kept_checkpoint_reads_the_grown_one_and_keeps_it(
    served: Served, tmp_path: Path
) -> None:
    reader = _reader(served, tmp_path)
    reader.check_file(_target(0))
    served.log.add_files(300, 600)
    served.publish()
    reader.check_file(_target(850))
    assert (tmp_path / "checkpoint").read_bytes() == served.checkpoint
    assert reader.stats.checkpoints_fetched == 2
    # Full tiles were kept on disk; partial ones are not.
    assert (tmp_path / "tile" / "0" / "000").stat().st_size == 8192
    assert not list(tmp_path.glob("tile/**/*.p"))


def test_a_file_not_in_the_log_is_refused(served: Served, tmp_path: Path) -> None:
    with pytest.raises(Refusal, match=r"is not in the index's log .*did not log"):
        _reader(served, tmp_path).check_file(_target(5000))


def test_a_file_logged_after_the_newest_checkpoint_is_refused(
    served: Served, tmp_path: Path
) -> None:
    served.log.add_files(300, 1)  # appended, no checkpoint yet
    with pytest.raises(Refusal, match="entry is at index 300, the checkpoint holds 300"):
        _reader(served, tmp_path).check_file(_target(300))


def test_a_fork_is_refused_and_its_evidence_saved(served: Served, tmp_path: Path) -> None:
    reader = _reader(served, tmp_path)
    reader.check_file(_target(0))
    kept = served.checkpoint
    # The index shows this client another tree of the same size, then a file in it.
    other = ToyLog()
    other.add_files(0, 299)
    other.add_files(7000, 1)
    served.checkpoint = served.log.checkpoint(root=other.root())
    served.log.add_files(300, 1)
    with pytest.raises(Refusal, match=r"fork: two different root hashes .* saved in .*fork-") as e:
        _reader(served, tmp_path).check_file(_target(300))
    saved = Path(e.value.message.rpartition(" saved in ")[2].split(":")[0])
    text = saved.read_text()
    assert kept.decode() in text
    assert served.checkpoint.decode() in text
    assert "log: https://index.example/tlog/" in text
    assert (tmp_path / "checkpoint").read_bytes() == kept  # the fork is not kept


def test_a_grown_fork_is_refused_with_the_proof_saved(served: Served, tmp_path: Path) -> None:
    _reader(served, tmp_path).check_file(_target(0))
    # Same key, a tree of 600 whose first 300 leaves are another history.
    fork = ToyLog()
    fork.key, fork.witness_keys = served.log.key, served.log.witness_keys
    fork.add_files(9000, 300)
    fork.add_files(300, 300)
    fork.publish()
    served.log = fork
    served.checkpoint = fork.checkpoint()
    with pytest.raises(Refusal, match="size 600 does not contain the kept tree of size 300") as e:
        _reader(served, tmp_path).check_file(_target(450))
    saved = next(tmp_path.glob("fork-*.txt")).read_text()
    assert "consistency proof from size 300 to size 600" in saved
    assert "root of the new tree's first 300 entries" in saved
    assert str(next(tmp_path.glob("fork-*.txt"))) in e.value.message


def test_a_rollback_is_refused(served: Served, tmp_path: Path) -> None:
    _reader(served, tmp_path).check_file(_target(0))
    served.log.add_files(300, 1)
    served.checkpoint = served.log.checkpoint(size=200)
    with pytest.raises(Refusal, match=r"rollback: .* 200 entries, fewer than the 300"):
        _reader(served, tmp_path).check_file(_target(300))


def test_too_few_cosignatures_refuse_the_file(served: Served, tmp_path: Path) -> None:
    served.checkpoint = served.log.checkpoint(cosigners=(1,))
    with pytest.raises(Refusal, match=r"valid cosignatures from 1 of .* fewer than the 2"):
        _reader(served, tmp_path).check_file(_target(0))
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.parametrize("kind", ["garbage", "huge", "symlink", "directory", "forged"])
def test_a_hostile_kept_checkpoint_is_refused_loudly(
    served: Served, tmp_path: Path, kind: str
) -> None:
    kept = tmp_path / "checkpoint"
    if kind == "garbage":
        kept.write_bytes(b"\x00garbage\n")
    elif kind == "huge":
        kept.write_bytes(b"x" * (200 * 1024))
    elif kind == "symlink":
        (tmp_path / "elsewhere").write_bytes(served.checkpoint)
        os.symlink(tmp_path / "elsewhere", kept)
    elif kind == "directory":
        kept.mkdir()
    else:  # the log's name and key ID, a signature that does not verify
        kept.write_bytes(served.checkpoint.replace(b"\n300\n", b"\n301\n"))
    words = {
        "garbage": "the kept checkpoint .* does not verify",
        "huge": "is over 131072 bytes",
        "symlink": "is a symbolic link",
        "directory": "(is not a regular file|cannot be read)",
        "forged": "does not verify under the log key",
    }[kind]
    with pytest.raises(Refusal, match=words):
        _reader(served, tmp_path).check_file(_target(0))


def test_a_kept_checkpoint_of_a_rotated_log_key_starts_again(
    served: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "checkpoint").write_bytes(served.checkpoint)
    served.log.key = Ed25519PrivateKey.generate()  # a root ceremony rotated it
    served.checkpoint = served.log.checkpoint()
    _reader(served, tmp_path).check_file(_target(0))
    assert "the root rotated the log's key" in caplog.text
    assert (tmp_path / "checkpoint").read_bytes() == served.checkpoint


def test_a_cached_tile_altered_on_disk_is_read_again(served: Served, tmp_path: Path) -> None:
    reader = _reader(served, tmp_path)
    reader.check_file(_target(1))
    cached = tmp_path / "tile" / "0" / "000"
    cached.write_bytes(bytes(8192))
    _reader(served, tmp_path).check_file(_target(2))  # a new run: proven from the index
    assert cached.read_bytes() == served.log.store[next(iter(served.log.store))]


def test_a_tile_the_index_altered_refuses_the_file(served: Served, tmp_path: Path) -> None:
    first = next(iter(served.log.store))
    served.log.store[first] = bytes(8192)
    with pytest.raises(Refusal, match="not proven to be in the log's checkpoint"):
        _reader(served, tmp_path).check_file(_target(2))


@pytest.mark.parametrize(
    ("location", "url", "directory"),
    [
        (Location.of_index("https://h.example/", Path("c")), "https://h.example/tlog/", "c/tlog"),
        (
            Location.of_index("https://h.example/pre/fix", Path("c")),
            "https://h.example/pre/fix/tlog/",
            "c/tlog",
        ),
        # The conformance client: the log beside the metadata URL's tuf/, kept in its
        # metadata directory.
        (Location("https://h.example/x/tuf/", Path("m")), "https://h.example/x/tlog/", "m/tlog"),
    ],
)
def test_the_log_is_read_beside_tuf_and_kept_in_the_cache(
    location: Location, url: str, directory: str
) -> None:
    assert location.log_location() == (url, Path(directory))


def test_a_cached_tile_altered_on_disk_is_not_taken_for_a_fork(
    served: Served, tmp_path: Path
) -> None:
    _reader(served, tmp_path).check_file(_target(1))
    served.log.add_files(300, 300)
    served.publish()
    # A full tile planted in the cache, that the proof from 300 to 600 reads.
    (tmp_path / "tile" / "0" / "001").write_bytes(bytes(8192))
    _reader(served, tmp_path).check_file(_target(550))
    assert not list(tmp_path.glob("fork-*"))
    assert (tmp_path / "checkpoint").read_bytes() == served.checkpoint


def test_altered_tiles_from_the_index_are_refused_but_not_taken_for_a_fork(
    served: Served, tmp_path: Path
) -> None:
    """The index's own tiles altered (not a cache): they are unsigned, so the growth they
    fail to prove is refused without fork evidence that would accuse an honest log."""
    kept = served.checkpoint
    _reader(served, tmp_path).check_file(_target(1))
    served.log.add_files(300, 300)
    served.publish()
    altered = Tile(0, 1)  # leaves 256 to 511: the tree of 300's last ones, not cached yet
    served.log.store[altered] = bytes(32) + served.log.store[altered][32:]
    with pytest.raises(Refusal, match=r"tiles give no consistency proof .*\(altered or truncated"):
        _reader(served, tmp_path).check_file(_target(550))
    assert not list(tmp_path.glob("fork-*"))
    assert (tmp_path / "checkpoint").read_bytes() == kept


def test_many_threads_read_one_checkpoint(served: Served, tmp_path: Path) -> None:
    reader = _reader(served, tmp_path)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: reader.check_file(_target(n)), range(0, 300, 10)))
    assert served.read.count("checkpoint") == 1
    assert reader.stats.files_checked == 30


def test_every_read_is_bounded_and_an_oversized_one_refused(served: Served, tmp_path: Path) -> None:
    asked: set[tuple[str, int]] = set()

    def get(url: str, max_length: int) -> bytes:
        asked.add((url.removeprefix(URL).partition("/")[0], max_length))
        return served.get(url, max_length)

    reader = LogReader(served.log.policy(2), get, URL, tmp_path)
    reader.check_file(_target(7))
    assert asked == {
        ("lookup", 65535 + 21),
        ("checkpoint", 128 * 1024),
        ("tile", 256 * 32),  # tile/0/000
        ("tile", 44 * 32),  # tile/0/001.p/44
    }
    # A tile longer than its width allows: cut by the fetcher's cap, refused in plain words.
    partial = next(tile for tile in served.log.store if tile.partial and tile.level == 0)
    served.log.store[partial] += b"\0" * 4096
    with pytest.raises(Refusal, match=r"endless data.*the transparency log's tile/0/001\.p/44"):
        _reader(served, tmp_path / "fresh").check_file(_target(280))
