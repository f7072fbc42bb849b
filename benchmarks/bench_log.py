"""How fast the signer appends to the transparency log: entries sequenced per second (moved
from ``log_pending`` to ``log_leaves`` in one transaction) on SQLite, then the tiles, entry
bundles, lookup files and the signed checkpoint written from them, against a baseline run
in the same process: hashing the same leaves alone (the least any log must do per entry).
The issue's goal: the log keeps up with back-signing, 100,000 entries/s. See
``benchmarks/README.md``.

    .venv/bin/python benchmarks/bench_log.py                   # 100,000 pending file entries
    .venv/bin/python benchmarks/bench_log.py --entries 1000000
    .venv/bin/python benchmarks/bench_log.py --quick           # 5,000 entries: a smoke run

The pending entries are inserted first (not measured), as uploads or an import record
them. One ``Sequencer.run`` then appends them all (one publication's worth: what a
back-signing ``trust publish`` or an import's publication does) and publishes the log; its
named points time the steps. Last, small runs on top of the big log (a few uploads each, as
a running signer sees them) show that a run costs what is new, not the log's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402

from tufpi.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from tufpi.db.models import LogPending, table_of  # noqa: E402
from tufpi.db.session import make_write_sessionmaker  # noqa: E402
from tufpi.storage import LocalStorage  # noqa: E402
from tufpi.tlog import entries, hashing  # noqa: E402
from tufpi.transparency import LogKey, Sequencer, TufFiles  # noqa: E402

ORIGIN = "bench.example/tlog"
GOAL = 100_000  # entries per second
NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
SMALL_RUNS = 20
SMALL_BATCH = 10


def file_entry(number: int) -> bytes:
    """A file entry of a realistic size (about 400 bytes)."""
    digest = hashlib.sha256(b"%d" % number).hexdigest()
    return entries.encode_entry(
        entries.FileAdded(
            project=f"project-{number % 5000}",
            version=f"1.{number}",
            filename=f"project_{number % 5000}-1.{number}-py3-none-any.whl",
            path=f"packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/project-1.{number}.whl",
            sha256=digest,
            size=10_000 + number,
            time=NOW,
            via="import",
            account="bench",
            token=None,
        )
    )


def pend(engine_url: str, first: int, count: int) -> None:
    """Insert ``count`` pending entries, as events record them (not measured)."""
    engine = make_engine(engine_url)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(LogPending)),
            [{"entry": file_entry(n)} for n in range(first, first + count)],
        )
    engine.dispose()


def no_timestamp() -> bytes:
    raise FileNotFoundError("timestamp.json")  # the publication entry is not measured here


def sequencer(url: str, files: Path, marks: dict[str, float]) -> Sequencer:
    engine = make_engine(url)
    return Sequencer(
        make_sessionmaker(engine),
        make_write_sessionmaker(engine),
        LocalStorage(files),
        LogKey(ORIGIN, Ed25519PrivateKey.generate()),
        TufFiles(timestamp=no_timestamp, snapshot=lambda _version: b""),
        lambda: NOW,
        passed=lambda name: marks.__setitem__(name, time.perf_counter()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 entries: a smoke run")
    args = parser.parse_args()
    count = 5_000 if args.quick else args.entries
    for key, value in machine().items():
        print(f"# {key}: {value}")
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'tufpi.sqlite3'}"
        upgrade(make_engine(url))
        pend(url, 0, count)
        print(f"{count:,} pending file entries inserted (not measured)")
        data = [file_entry(n) for n in range(count)]
        started = time.perf_counter()
        for entry in data:
            hashing.leaf_hash(entry)
        baseline = time.perf_counter() - started
        marks: dict[str, float] = {}
        log = sequencer(url, Path(tmp) / "files", marks)
        started = time.perf_counter()
        result = log.run()
        assert result.size == count
        sequenced = marks["log-sequenced"] - started
        written = marks["log-tiles"] - marks["log-sequenced"]
        signed = marks["log-checkpoint"] - marks["log-tiles"]
        rate = count / sequenced
        print(
            f"sequenced {count:,} entries in {sequenced:.2f} s: {rate:,.0f} entries/s "
            f"(goal {GOAL:,}/s: {'met' if rate >= GOAL else 'NOT met'})"
        )
        print(
            f"baseline: the {count:,} leaf hashes alone in {baseline:.3f} s "
            f"({count / baseline:,.0f}/s); sequencing is {sequenced / baseline:.1f}x that"
        )
        files = sum(1 for _ in Path(tmp, "files", "tlog").rglob("*") if _.is_file())
        plain = plain_files(Path(tmp) / "plain", files)
        print(
            f"tiles, bundles and {count:,} lookups written ({files:,} files, synced) in "
            f"{written:.2f} s ({count / written:,.0f} entries/s); checkpoint signed and "
            f"written in {signed * 1000:.1f} ms"
        )
        print(
            f"baseline: {files:,} plain files of 400 bytes created (no rename, no sync, one "
            f"thread) in {plain:.2f} s; the log's writes are {written / plain:.1f}x that"
        )
        small(url, tmp, count)


def plain_files(directory: Path, count: int) -> float:
    """Seconds to create ``count`` small files in one directory: the file system's floor."""
    directory.mkdir()
    data = b"x" * 400
    started = time.perf_counter()
    for number in range(count):
        with open(directory / f"{number:064x}", "wb") as out:
            out.write(data)
    return time.perf_counter() - started


def small(url: str, tmp: str, size: int) -> None:
    """Runs of a few entries on top of the big log: each reads only the tree's edge."""
    marks: dict[str, float] = {}
    log = sequencer(url, Path(tmp) / "files", marks)
    seconds = []
    for number in range(SMALL_RUNS):
        pend(url, size + number * SMALL_BATCH, SMALL_BATCH)
        started = time.perf_counter()
        log.run()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    print(
        f"runs of {SMALL_BATCH} entries on a log of {size:,}: median "
        f"{seconds[len(seconds) // 2] * 1000:.1f} ms, max {seconds[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
