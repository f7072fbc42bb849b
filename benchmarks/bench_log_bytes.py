"""The bytes a verifying client downloads per install to prove its files are in the
transparency log, at PyPI's scale, with tufpi's own client code. See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/bench_log_bytes.py            # a log of 2,273,539 files
    .venv/bin/python benchmarks/bench_log_bytes.py --quick    # 20,000: a smoke run

The log (PEP 458's 2019 count of PyPI's targets as its leaves; the entries of the files an
install asks for are real ``file`` entries, the others stand-ins of the same hash) is built
with ``tufpi.tlog`` as the sequencer builds it, written as C2SP tiles to a directory, its
checkpoint signed and cosigned by two witnesses, and served by a static HTTP server on
127.0.0.1. tufpi's ``LogReader`` (the proxy's and ``tufpi install``'s), over the client's
bounded fetcher, proves each file of an install; its counters give the bytes.

Installs: one file, and 63 (``bench_install.py``'s big tree), each with an empty cache;
then the 63 again after the log grew by ``--growth`` entries (a day of uploads), with the
full tiles kept from the first run. The baseline, in the same run, is what a client that
took the index's word would fetch: the checkpoint and one lookup per file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.support: the suite's static file server

from common import machine  # noqa: E402

from tests.support.payload_host import serving  # noqa: E402
from tufpi.client.log_checks import FileTarget  # noqa: E402
from tufpi.client.log_reader import LogReader, LogStats  # noqa: E402
from tufpi.client.verified_index import ClientBounds  # noqa: E402
from tufpi.tlog import entries, hashing, notes, tiles  # noqa: E402
from tufpi.tlog.checkpoints import Checkpoint  # noqa: E402
from tufpi.tlog.policy import LogPolicy  # noqa: E402
from tufpi.transparency import layout  # noqa: E402

ORIGIN = "bench.example/tlog"
PYPI_2019 = 2_273_539  # PEP 458's count of PyPI's targets
WHEN = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


class Log:
    """A log written to ``root`` as a static server would hold it."""

    def __init__(self, root: Path, witnesses: int = 2) -> None:
        self.root = root
        self.size = 0
        self.key = Ed25519PrivateKey.generate()
        self.witnesses = [(f"w{n}.example", Ed25519PrivateKey.generate()) for n in range(witnesses)]
        self.edge: dict[tiles.Tile, bytes] = {}  # the partial tiles of the current size
        self.files: dict[int, FileTarget] = {}

    def policy(self) -> LogPolicy:
        return LogPolicy(
            notes.verifier_for(ORIGIN, self.key, notes.ED25519),
            tuple(notes.verifier_for(n, k, notes.COSIGNATURE_V1) for n, k in self.witnesses),
            len(self.witnesses),
        )

    def _write(self, rest: str, data: bytes) -> None:
        path = self.root / "tlog" / rest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def grow(self, count: int, files: set[int]) -> None:
        """Append ``count`` leaves; those at the indexes ``files`` are file entries."""
        hashes = []
        for index in range(self.size, self.size + count):
            if index in files:
                sha256 = f"{index:064x}"
                name = f"f{index}-1.0-py3-none-any.whl"
                path = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{name}"
                entry = entries.encode_entry(
                    entries.FileAdded(
                        f"f{index}", "1", name, path, sha256, 1000, WHEN, "upload", "a"
                    )
                )
                self._write(
                    f"lookup/{layout.lookup_name(path)}", layout.lookup_content(index, entry)
                )
                self.files[index] = FileTarget(path, sha256, 1000)
                hashes.append(hashing.leaf_hash(entry))
            else:
                hashes.append(hashing.leaf_hash(b"%d" % index))
        written = tiles.tiles_after_append(self.size, hashes, self.edge.__getitem__)
        self.edge = {tile: data for tile, data in written.items() if tile.partial}
        for tile, data in written.items():
            self._write(tile.path(), data)
        self.size += count
        root = tiles.root_hash(self.size, lambda t: (self.root / "tlog" / t.path()).read_bytes())
        text = Checkpoint(ORIGIN, self.size, root).text()
        signatures = [notes.sign(text, ORIGIN, self.key)] + [
            notes.cosign(text, name, key, int(time.time())) for name, key in self.witnesses
        ]
        self._write("checkpoint", notes.Note(text, tuple(signatures)).encode())


def install(log: Log, url: str, cache: Path, files: list[int]) -> LogStats:
    """Prove ``files`` as one client run (one ``LogReader``) with the cache ``cache``."""
    stats = LogStats()
    with httpx.Client() as http:
        fetcher = ClientBounds().fetcher(http)
        reader = LogReader(log.policy(), fetcher.get, url + "tlog/", cache, stats=stats)
        for index in files:
            reader.check_file(log.files[index])
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=PYPI_2019)
    parser.add_argument("--growth", type=int, default=20_000, help="entries a day adds")
    parser.add_argument("--quick", action="store_true", help="20,000 leaves: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.leaves, args.growth = 20_000, 500
    logging.getLogger("tufpi").setLevel(logging.ERROR)  # its first-use notice, each run
    for key, value in machine().items():
        print(f"# {key}: {value}")
    chosen = random.Random(458).sample(range(args.leaves), 63)
    with tempfile.TemporaryDirectory(prefix="bench-log-bytes-") as work:
        log = Log(Path(work) / "www")
        started = time.perf_counter()
        log.grow(args.leaves, set(chosen))
        print(f"built a log of {args.leaves:,} leaves in {time.perf_counter() - started:.1f} s")
        with serving(log.root) as host:
            url = host.url
            one = install(log, url, Path(work) / "cache-one", chosen[:1])
            big = install(log, url, Path(work) / "cache-big", chosen)
            log.grow(args.growth, set())
            later = install(log, url, Path(work) / "cache-big", chosen)
        checkpoint = len((log.root / "tlog" / "checkpoint").read_bytes())
        lookup = {
            index: len((log.root / "tlog" / layout.lookup_key(target.path)[5:]).read_bytes())
            for index, target in log.files.items()
        }
    print("| install | files | log bytes | per file | baseline: checkpoint + lookups | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, stats, files in (
        ("one file, empty cache", one, chosen[:1]),
        ("63 files, empty cache", big, chosen),
        (f"63 files, a day later (+{args.growth:,} entries), tiles kept", later, chosen),
    ):
        baseline = stats.checkpoints_fetched * checkpoint + sum(lookup[i] for i in files)
        print(
            f"| {label} | {len(files)} | {stats.bytes_fetched:,} | "
            f"{stats.bytes_fetched // len(files):,} | {baseline:,} | "
            f"{stats.bytes_fetched / baseline:.1f}x |"
        )
    print(
        f"tiles fetched: {one.tiles_fetched}, {big.tiles_fetched}, {later.tiles_fetched} "
        f"(the last run took {later.tiles_from_cache} from its cache)"
    )


if __name__ == "__main__":
    main()
