"""How long verifying a year of the log's checkpoints takes: what a witness or a monitor does
for each checkpoint (the log's signature, the witnesses' cosignatures, the consistency proof
from the one before), against the bare Ed25519 verifications it contains, in the same run.
See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/bench_checkpoints.py                 # 10,000 checkpoints
    .venv/bin/python benchmarks/bench_checkpoints.py --checkpoints 525600   # a year, one a minute
    .venv/bin/python benchmarks/bench_checkpoints.py --quick    # 200 checkpoints: a smoke run

The log is built first (not timed) with ``tufpi.tlog``: ``--entries`` leaves per checkpoint,
tiles appended as the sequencer appends them, each checkpoint signed by the log and cosigned
by ``--witnesses`` witnesses. Then every checkpoint is verified in order, as a witness that
saw them all would; a year is extrapolated from the measured rate at one checkpoint a minute
and one every ten seconds. Last, the catch-up of a client offline for the whole run: one
consistency proof from the first checkpoint to the last.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402

from tufpi.tlog import hashing, notes, tiles  # noqa: E402
from tufpi.tlog.checkpoints import Checkpoint, open_checkpoint  # noqa: E402

ORIGIN = "bench.example/tlog"
YEAR = 365 * 86400


class Log:
    """A log grown in memory as the sequencer grows it: tiles appended, never rebuilt."""

    def __init__(self) -> None:
        self.size = 0
        self.tiles: dict[tiles.Tile, bytes] = {}
        self.latest: dict[tuple[int, int], tiles.Tile] = {}

    def read(self, tile: tiles.Tile) -> bytes:
        return self.tiles[tile]

    def append(self, count: int) -> tuple[bytes, list[bytes]]:
        """Append ``count`` leaves; the new root and the proof from the old size."""
        start = self.size
        hashes = [hashing.leaf_hash(b"entry %d" % n) for n in range(start, start + count)]
        written = tiles.tiles_after_append(start, hashes, self.read)
        for tile in written:  # a tile rewritten wider replaces the narrower one
            narrower = self.latest.pop((tile.level, tile.index), None)
            if narrower is not None:
                del self.tiles[narrower]
            self.latest[tile.level, tile.index] = tile
        self.tiles.update(written)
        self.size = start + count
        root = tiles.root_hash(self.size, self.read)
        proof = tiles.consistency_proof(start, self.size, self.read) if start else []
        return root, proof


def build(
    count: int, entries: int, witnesses: int
) -> tuple[list[tuple[bytes, list[bytes]]], list[notes.Verifier]]:
    """``count`` signed and cosigned checkpoints, each with its proof from the one before."""
    log_key = Ed25519PrivateKey.generate()
    witness_keys = [(f"w{n}.example", Ed25519PrivateKey.generate()) for n in range(witnesses)]
    verifiers = [notes.verifier_for(ORIGIN, log_key, notes.ED25519)] + [
        notes.verifier_for(name, key, notes.COSIGNATURE_V1) for name, key in witness_keys
    ]
    log, made = Log(), []
    for number in range(count):
        root, proof = log.append(entries)
        text = Checkpoint(ORIGIN, log.size, root).text()
        signatures = [notes.sign(text, ORIGIN, log_key)] + [
            notes.cosign(text, name, key, 1_760_000_000 + number) for name, key in witness_keys
        ]
        made.append((notes.Note(text, tuple(signatures)).encode(), proof))
    return made, verifiers


def verify_all(
    made: list[tuple[bytes, list[bytes]]], verifiers: list[notes.Verifier], threshold: int
) -> Checkpoint:
    """What a witness does with each checkpoint in turn; returns the last one."""
    previous: Checkpoint | None = None
    for data, proof in made:
        checkpoint, verified = open_checkpoint(data, verifiers, ORIGIN)
        cosigned = {v.verifier.name for v in verified if v.timestamp is not None}
        if len(cosigned) < threshold:
            raise SystemExit("a checkpoint lacks its cosignatures")
        if previous is not None:
            hashing.verify_consistency(
                previous.size, checkpoint.size, previous.root_hash, checkpoint.root_hash, proof
            )
        previous = checkpoint
    assert previous is not None
    return previous


def bare_verifications(count: int) -> float:
    """Seconds for ``count`` Ed25519 verifications of a checkpoint-sized message."""
    key = Ed25519PrivateKey.generate()
    message = b"x" * 80
    signature = key.sign(message)
    public = key.public_key()
    started = time.perf_counter()
    for _ in range(count):
        public.verify(signature, message)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=20, help="leaves per checkpoint")
    parser.add_argument("--witnesses", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="200 checkpoints: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.checkpoints = 200
    for key, value in machine().items():
        print(f"# {key}: {value}")
    started = time.perf_counter()
    made, verifiers = build(args.checkpoints, args.entries, args.witnesses)
    print(
        f"built {args.checkpoints:,} checkpoints ({args.checkpoints * args.entries:,} leaves) "
        f"in {time.perf_counter() - started:.1f} s (not measured)"
    )
    started = time.perf_counter()
    last = verify_all(made, verifiers, args.witnesses)
    seconds = time.perf_counter() - started
    signatures = args.checkpoints * (1 + args.witnesses)
    baseline = bare_verifications(signatures)
    per = seconds / args.checkpoints
    proof_bytes = sum(len(proof) * hashing.HASH_SIZE for _, proof in made) / args.checkpoints
    note_bytes = sum(len(data) for data, _ in made) / args.checkpoints
    print(
        f"verified {args.checkpoints:,} checkpoints in {seconds:.2f} s: {per * 1e6:.0f} us each "
        f"({note_bytes:.0f} B note + {proof_bytes:.0f} B consistency proof)"
    )
    print(
        f"baseline: {signatures:,} bare Ed25519 verifications in {baseline:.2f} s; "
        f"ratio {seconds / baseline:.2f}x"
    )
    for label, interval in (("one a minute", 60), ("one every 10 s", 10)):
        year = YEAR // interval
        print(f"a year at {label} ({year:,} checkpoints): {year * per:.0f} s")
    first, _ = open_checkpoint(made[0][0], verifiers, ORIGIN)
    started = time.perf_counter()
    catch_up = Log()
    for _ in range(args.checkpoints):
        catch_up.append(args.entries)
    proof = tiles.consistency_proof(first.size, catch_up.size, catch_up.read)
    verify = time.perf_counter()
    hashing.verify_consistency(first.size, last.size, first.root_hash, last.root_hash, proof)
    done = time.perf_counter()
    print(
        f"catch-up after the whole run offline: one proof of {len(proof)} hashes "
        f"({len(proof) * hashing.HASH_SIZE} B) verified in {(done - verify) * 1e6:.0f} us "
        f"(rebuilding the log to serve it: {verify - started:.1f} s, not a client's cost)"
    )


if __name__ == "__main__":
    main()
