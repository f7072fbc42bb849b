"""The log's leaves in the database (``log_leaves``), the truth the tiles, lookups and
checkpoints in storage are derived from.

``append`` moves the pending entries into the log in ``id`` order, in the caller's
transaction: a leaf's index is the log's size before it plus its position, so a crash
either appends the whole batch or none of it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from tufpi.db.dialect import dialect_of
from tufpi.db.models import LogLeaf, LogPending, table_of

_INSERT = insert(table_of(LogLeaf))
# How far back (non-file leaves) the newest logged publication is looked for. A publication
# is logged right after the entries it published, so it is among the last few; were it not
# found, the publication would be logged again: a harmless duplicate, never a gap.
_PUBLICATION_LOOKBACK = 256


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One leaf: its index, the entry's bytes, and the target path of a ``file`` entry."""

    seq: int
    entry: bytes
    path: str | None


def snapshot_view(session: Session) -> None:
    """Make ``session``'s transaction one snapshot (PostgreSQL REPEATABLE READ; SQLite's
    write transaction already is): the pending rows it deletes are exactly those it read,
    never one committed by a web node meanwhile. Call before the first statement."""
    if dialect_of(session) == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def size(session: Session) -> int:
    """The number of leaves in the log."""
    last = session.scalar(select(func.max(LogLeaf.seq)))
    return 0 if last is None else int(last) + 1


def any_pending(session: Session) -> bool:
    """Whether any entry waits to be appended."""
    return session.scalar(select(LogPending.id).limit(1)) is not None


def target_path(entry: bytes) -> str | None:
    """The TUF target path a ``file`` entry adds; None for any other kind. The entry was
    checked when it was recorded (``tufpi.tlog.entries.encode_entry``); only its kind and
    path are read here, cheaply."""
    fields = json.loads(entry)
    if fields.get("kind") != "file":
        return None
    path = fields["path"]
    if not isinstance(path, str):
        raise ValueError("a file entry's path is not a string")
    return path


def append(session: Session, log_size: int, extra: Sequence[bytes] = ()) -> int:
    """Append every pending entry (in ``id`` order), then ``extra`` entries, to a log of
    ``log_size`` leaves, and delete the pending rows appended; returns how many leaves were
    appended. ``session`` must be a ``snapshot_view``."""
    pending = session.execute(select(LogPending.id, LogPending.entry).order_by(LogPending.id)).all()
    entries = [row.entry for row in pending] + list(extra)
    if not entries:
        return 0
    session.execute(
        _INSERT,
        [
            {"seq": log_size + position, "entry": entry, "path": target_path(entry)}
            for position, entry in enumerate(entries)
        ],
    )
    if pending:
        # Exactly the rows read: this transaction sees no row committed after it began.
        session.execute(delete(LogPending).where(LogPending.id <= pending[-1].id))
    return len(entries)


def read(session: Session, start: int, end: int) -> list[Leaf]:
    """Leaves ``[start, end)``, in order."""
    rows = session.execute(
        select(LogLeaf.seq, LogLeaf.entry, LogLeaf.path)
        .where(LogLeaf.seq >= start, LogLeaf.seq < end)
        .order_by(LogLeaf.seq)
    )
    leaves = [Leaf(row.seq, row.entry, row.path) for row in rows]
    if len(leaves) != end - start:
        raise ValueError(f"the log's leaves {start} to {end - 1} are not all in the database")
    return leaves


def newest_publication(session: Session) -> int | None:
    """The timestamp version of the newest publication logged (None if none is found)."""
    rows = session.scalars(
        select(LogLeaf.entry)
        .where(LogLeaf.path.is_(None))
        .order_by(LogLeaf.seq.desc())
        .limit(_PUBLICATION_LOOKBACK)
    )
    for entry in rows:
        fields = json.loads(entry)
        if fields.get("kind") == "publication":
            return int(fields["timestamp_version"])
    return None
