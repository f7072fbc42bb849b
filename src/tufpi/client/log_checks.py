"""What the verifying client checks of the index's transparency log (issue 15), as pure
decisions: bytes and tile contents in, a verified checkpoint or a refusal out.

The trusted TUF root pins the log (``tufpi.tlog.policy``): its key, its witnesses and how
many of them must cosign. A file the signed metadata lists is handed out only if:

1. a checkpoint is signed by the log's key (its origin: the key's name) and cosigned by at
   least ``witness_threshold`` distinct witnesses of the root (C2SP tlog-cosignature);
2. that checkpoint is consistent with the newest one the client kept (the same root for
   the same size; for a larger one, a consistency proof from the tiles that leads from the
   new tree's first leaves to its signed root, and those leaves hash to the kept root; a
   smaller one is a rollback), so every client that keeps its checkpoints sees one history;
3. the file's entry (``tlog/lookup/<sha256 of its path>``) is a ``file`` entry for the same
   target path, sha256 and size, at an index below the checkpoint's size, and its
   inclusion proof from the tiles leads to the checkpoint's root hash.

Tiles are read through a ``tiles.TileReader`` the caller provides (HTTP, a cache, a dict in
a test); nothing here does I/O. Every refusal is a ``LogRefusal`` whose message says which
file and what was wrong; a fork is a ``LogFork`` carrying its ``ForkEvidence`` (a rollback
carries both checkpoints too), and ``evidence_text`` is the one format it is published in.

``tufpi monitor`` (``monitor_log``) verifies the checkpoints it follows with the same
functions (1 and 2) and writes the same evidence.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

from tufpi.tlog import checkpoints, entries, hashing, notes, tiles
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import LogPolicy

# The bytes the client reads at most for each thing of the log (the index serves them
# unsigned; each is checked against a signed checkpoint before it counts).
CHECKPOINT_MAX_LENGTH = notes.MAX_NOTE_BYTES
TILE_MAX_LENGTH = tiles.TILE_WIDTH * hashing.HASH_SIZE
# "<index>\n" (at most 19 digits and the newline: 2**63 - 1) then one entry.
LOOKUP_MAX_LENGTH = entries.MAX_ENTRY_SIZE + 21
_MAX_INDEX_DIGITS = 19
# Fork evidence's line before the new tree's root of the kept size.
PREFIX_LABEL = "root of the new tree's first"


@dataclasses.dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature and witness cosignatures verified, with the exact
    note bytes (what is kept, and what fork evidence shows)."""

    note: bytes
    checkpoint: Checkpoint
    witnesses: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """The tree size the checkpoint commits to."""
        return self.checkpoint.size


@dataclasses.dataclass(frozen=True)
class ForkEvidence:
    """Two checkpoints of one log, both signed by its key, that one append-only history
    cannot explain: a fork, or a rollback (``new`` smaller than ``kept``). For a fork of a
    grown tree, ``prefix`` is the root of the new tree's first ``kept.size`` leaves and
    ``proof`` the consistency proof from it to the new root, both from the new tree's
    tiles: the proof verifies, and the prefix is not the kept root."""

    reason: str
    kept: SignedCheckpoint
    new: SignedCheckpoint
    proof: tuple[bytes, ...] = ()
    prefix: bytes | None = None

    @property
    def rollback(self) -> bool:
        """Whether the new checkpoint is smaller than the kept one."""
        return self.new.size < self.kept.size


class LogRefusal(Exception):
    """The log does not vouch for a file, a checkpoint may not be trusted, or the log could
    not be read or verified; ``evidence``, when the log contradicted itself (a fork, a
    rollback), is what shows it."""

    def __init__(self, message: str, evidence: ForkEvidence | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence


class LogFork(LogRefusal):
    """The log showed a tree that is not an extension of the one the client kept."""

    evidence: ForkEvidence

    def __init__(self, message: str, evidence: ForkEvidence) -> None:
        super().__init__(message, evidence)


@dataclasses.dataclass(frozen=True)
class FileTarget:
    """What the signed TUF metadata says of a file: its target path, sha256 and length."""

    path: str
    sha256: str
    length: int


# ----- checkpoints -----


def open_signed_checkpoint(policy: LogPolicy, data: bytes, what: str) -> SignedCheckpoint:
    """Verify a signed checkpoint under ``policy``: the log's signature (the origin is its
    key's name) and at least ``witness_threshold`` cosignatures from distinct witnesses of
    the policy. ``what`` names the checkpoint in a refusal (``"the log's checkpoint"``).

    Raises:
        LogRefusal: over the size limit, malformed, not signed by the log's key, another
            log's, or too few valid cosignatures.
    """
    if len(data) > CHECKPOINT_MAX_LENGTH:
        raise LogRefusal(f"{what} is {len(data)} bytes, over the {CHECKPOINT_MAX_LENGTH} allowed")
    try:
        checkpoint, _ = checkpoints.open_checkpoint(data, [policy.log], policy.origin)
        note = notes.parse_note(data)
    except NoteError as e:
        raise LogRefusal(f"{what} does not verify under the log key the root pins: {e}") from e
    witnesses = _cosigned_by(policy, note)
    if len(witnesses) < policy.witness_threshold:
        named = ", ".join(witnesses) or "none"
        raise LogRefusal(
            f"{what} (size {checkpoint.size}) has valid cosignatures from "
            f"{len(witnesses)} of the root's witnesses ({named}), fewer than the "
            f"{policy.witness_threshold} the root asks for"
        )
    return SignedCheckpoint(data, checkpoint, tuple(witnesses))


def _cosigned_by(policy: LogPolicy, note: notes.Note) -> list[str]:
    """The names of the policy's witnesses with a valid cosignature on ``note``, each
    counted once however many lines it has; lines by other keys or that fail are not
    counted (a witness's bad line cannot make a log's good checkpoint unusable)."""
    known = {(w.name, w.key_id): w for w in policy.witnesses}
    found: dict[tuple[str, bytes], str] = {}
    for signature in note.signatures:
        witness = known.get((signature.name, signature.key_id))
        if witness is None or (witness.name, witness.key_id) in found:
            continue
        try:
            witness.verify(note.text, signature)
        except NoteError:
            continue
        found[(witness.name, witness.key_id)] = witness.name
    return list(found.values())


def check_growth(
    kept: SignedCheckpoint | None, new: SignedCheckpoint, read_tile: tiles.TileReader
) -> tuple[bytes, ...]:
    """Check that ``new`` extends ``kept`` (the newest checkpoint verified before; None:
    the first one seen); the consistency proof used (empty if none was needed).
    ``read_tile`` reads the tiles of the tree of ``new.size``.

    The proof and the new tree's prefix of the kept size are computed from the new tree's
    tiles, and the proof is checked from that prefix to the new root: when it verifies, the
    tiles are the new tree's, and a prefix other than the kept root is a fork anyone can
    check from the evidence alone; when it does not, only the (unsigned) tiles are wrong.

    Raises:
        LogFork: the same size with another root, or a grown tree whose first leaves are
            not the kept tree.
        LogRefusal: ``new`` is smaller (a rollback, with both checkpoints as evidence), or
            its tiles are malformed or do not lead to its root (no evidence).
    """
    if kept is None:
        return ()
    old, fresh = kept.checkpoint, new.checkpoint
    if fresh.size < old.size:
        reason = (
            f"the log's checkpoint has {fresh.size} entries, fewer than the {old.size} of "
            "the checkpoint kept before"
        )
        raise LogRefusal(f"rollback: {reason}", ForkEvidence(reason, kept, new))
    if fresh.size == old.size:
        if fresh.root_hash != old.root_hash:
            reason = f"two different root hashes for the same tree size {old.size}"
            raise LogFork(f"fork: {reason}", ForkEvidence(reason, kept, new))
        return ()
    if old.size == 0:
        return ()
    try:
        proof = tuple(tiles.consistency_proof(old.size, fresh.size, read_tile))
        prefix = tiles.range_hasher(fresh.size, read_tile)(0, old.size)
        hashing.verify_consistency(old.size, fresh.size, prefix, fresh.root_hash, proof)
    except (tiles.TileError, hashing.ProofError) as e:
        raise LogRefusal(
            f"the log's tiles give no consistency proof to its checkpoint of size "
            f"{fresh.size} (altered or truncated tiles): {e}"
        ) from e
    if prefix != old.root_hash:
        reason = (
            f"the log's tree of size {fresh.size} does not contain the kept tree of size "
            f"{old.size} (its first {old.size} leaves hash to {prefix.hex()}, not "
            f"{old.root_hash.hex()})"
        )
        raise LogFork(f"fork: {reason}", ForkEvidence(reason, kept, new, proof, prefix))
    return proof


# ----- a file's entry -----


def parse_lookup(path: str, data: bytes) -> tuple[int, bytes]:
    """The leaf index and entry bytes of a lookup (``<index>\\n<entry>``) for ``path``.

    Raises:
        LogRefusal: too long, or not a decimal index and a newline.
    """
    if len(data) > LOOKUP_MAX_LENGTH:
        raise LogRefusal(f"the log's lookup for {path} is over {LOOKUP_MAX_LENGTH} bytes")
    head, newline, entry = data.partition(b"\n")
    canonical = head.isdigit() and (head == b"0" or not head.startswith(b"0"))
    if not newline or not canonical or len(head) > _MAX_INDEX_DIGITS:
        raise LogRefusal(
            f"the log's lookup for {path} does not start with a leaf index and a newline"
        )
    return int(head), entry


def check_entry(target: FileTarget, index: int, entry: bytes) -> entries.FileAdded:
    """The entry, if it is a ``file`` entry for exactly the signed target.

    Raises:
        LogRefusal: malformed, another kind, or another path, sha256 or size.
    """
    try:
        parsed = entries.parse_entry(entry)
    except entries.EntryError as e:
        raise LogRefusal(f"the log's entry {index} for {target.path} is malformed: {e}") from e
    if not isinstance(parsed, entries.FileAdded):
        raise LogRefusal(
            f"the log's entry {index} for {target.path} is a {parsed.kind!r} entry, not a file"
        )
    for what, logged, signed in [
        ("path", parsed.path, target.path),
        ("sha256", parsed.sha256, target.sha256),
        ("size", parsed.size, target.length),
    ]:
        if logged != signed:
            raise LogRefusal(
                f"the log's entry {index} for {target.path} has {what} {logged}, but the "
                f"signed metadata says {signed}: the file signed is not the file logged"
            )
    return parsed


def check_inclusion(
    target: FileTarget,
    index: int,
    entry: bytes,
    signed: SignedCheckpoint,
    read_tile: tiles.TileReader,
) -> None:
    """Check that ``entry`` is leaf ``index`` of the tree ``signed`` commits to, by an
    inclusion proof from the tiles of that tree.

    Raises:
        LogRefusal: the index is not in the checkpoint, a tile is malformed, or the proof
            does not lead to the checkpoint's root hash.
    """
    size = signed.size
    if index >= size:
        raise LogRefusal(
            f"{target.path} is not in the log's verified checkpoint: its entry is at index "
            f"{index}, the checkpoint holds {size} entries"
        )
    try:
        proof = tiles.inclusion_proof(index, size, read_tile)
        leaf = hashing.leaf_hash(entry)
        hashing.verify_inclusion(index, size, leaf, proof, signed.checkpoint.root_hash)
    except (tiles.TileError, hashing.ProofError) as e:
        raise LogRefusal(
            f"{target.path} is not proven to be in the log's checkpoint of size {size} "
            f"(entry {index}): {e}"
        ) from e


# ----- fork evidence -----


def evidence_text(
    evidence: ForkEvidence, policy: LogPolicy, log_url: str, when: dt.datetime
) -> str:
    """The evidence as plain text a person can read, publish and check: the reason, the
    log's key, both signed checkpoints exactly as served, and for a grown fork the new
    tree's root of the kept size and the consistency proof from it to the new root."""
    what = "a rollback" if evidence.rollback else "a fork"
    why = (
        "the new one is older than the kept one: an old view served again."
        if evidence.rollback
        else "they cannot both be views of one append-only log."
    )
    lines = [
        f"tufpi: evidence of {what} of a transparency log",
        f"log: {log_url}",
        f"detected: {when.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
        f"log key (pinned by the index's TUF root): {policy.log.vkey()}",
        f"reason: {evidence.reason}",
        "",
        "Both checkpoints below are signed by the log's key. Check them with any C2SP",
        f"signed-note verifier; {why}",
        "",
        *_armored("KEPT CHECKPOINT", evidence.kept.note),
        *_armored("NEW CHECKPOINT", evidence.new.note),
        *_prefix_lines(evidence),
        _proof_heading(evidence),
        *(base64.b64encode(node).decode() for node in evidence.proof),
        "",
    ]
    return "\n".join(lines)


def _armored(label: str, note: bytes) -> list[str]:
    text = note.decode("utf-8", errors="replace").removesuffix("\n")
    return [f"-----BEGIN {label}-----", text, f"-----END {label}-----", ""]


def _prefix_lines(evidence: ForkEvidence) -> list[str]:
    if evidence.prefix is None:
        return []
    return [
        f"{PREFIX_LABEL} {evidence.kept.size} entries, from its tiles (base64; the proof below",
        "leads from it to the new checkpoint's root, and it is not the kept checkpoint's root):",
        base64.b64encode(evidence.prefix).decode(),
        "",
    ]


def _proof_heading(evidence: ForkEvidence) -> str:
    old, new = evidence.kept.size, evidence.new.size
    if old == new:
        return f"consistency proof: none (both trees have {old} entries)"
    if evidence.rollback:
        return f"consistency proof: none (the new tree has {new} entries, the kept {old})"
    return (
        f"consistency proof from size {old} to size {new}, as computed from the log's tiles "
        f"(RFC 9162 section 2.1.4; base64, {len(evidence.proof)} hashes, one per line):"
    )
