"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint): the note text of a signed
tree head. Three lines (origin, decimal tree size, base64 root hash), then optional
non-empty extension lines; each ends in a newline.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence

from tufpi.tlog import notes
from tufpi.tlog.hashing import HASH_SIZE
from tufpi.tlog.notes import NoteError

_MAX_SIZE = 2**63 - 1
_MAX_SIZE_DIGITS = len(str(_MAX_SIZE))


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: its origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("the origin", self.origin)
        if not 0 <= self.size <= _MAX_SIZE:
            raise NoteError(f"the tree size {self.size} is not within 0 and 2^63-1")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"the root hash is {len(self.root_hash)} bytes, not {HASH_SIZE}")
        for number, line in enumerate(self.extensions, start=1):
            _check_line(f"extension line {number}", line)

    def text(self) -> str:
        """The checkpoint as note text, final newline included."""
        root = base64.b64encode(self.root_hash).decode()
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def _check_line(what: str, line: str) -> None:
    if not line:
        raise NoteError(f"{what} of a checkpoint must not be empty")
    bad = next((char for char in line if ord(char) < 0x20), None)
    if bad is not None:
        raise NoteError(f"{what} of a checkpoint holds the control character 0x{ord(bad):02x}")


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note text spells, refusing (``NoteError``) anything malformed: fewer
    than three lines, a size with a sign or leading zeros, a root that is not the
    canonical base64 of 32 bytes, an empty line."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"a checkpoint has at least 3 lines, this one {len(lines)}")
    origin, size_line, root_line, *extensions = lines
    return Checkpoint(origin, _parse_size(size_line), _parse_root(root_line), tuple(extensions))


def _parse_size(line: str) -> int:
    if not line.isascii() or not line.isdigit():
        raise NoteError(f"the tree size {line[:40]!r} is not a decimal number")
    if len(line) > _MAX_SIZE_DIGITS or (len(line) > 1 and line[0] == "0"):
        raise NoteError(f"the tree size {line[:40]!r} has leading zeros or is too long")
    return int(line)


def _parse_root(line: str) -> bytes:
    raw = notes.strict_b64(line, "the root hash")
    if len(raw) != HASH_SIZE:
        raise NoteError(f"the root hash is {len(raw)} bytes, not {HASH_SIZE}")
    return raw


def open_checkpoint(
    data: bytes, verifiers: Sequence[notes.Verifier], origin: str
) -> tuple[Checkpoint, list[notes.Verified]]:
    """Parse and verify a signed checkpoint of the log ``origin``: at least one signature by
    a trusted key must verify, none by a trusted key may fail, and the origin line must be
    the one expected."""
    note, verified = notes.open_note(data, verifiers)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of the log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, verified
