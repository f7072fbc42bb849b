"""The transaction log (``tufpi trust log``): the target changes, newest first, as plain rows.

Every target added or removed, who did it, and which snapshot published it (none yet: the
change is pending); and the last publications, as the transparency log recorded them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import LogLeaf, TargetChange
from tufpi.tlog.entries import Entry, EntryError, Published, parse_entry


@dataclasses.dataclass(frozen=True)
class LoggedChange:
    """One target change as the log shows it."""

    id: int
    created: dt.datetime
    actor: str
    action: str  # "add" or "remove"
    path: str
    # The snapshot version that published it; None while the change is pending.
    published_version: int | None


def recent_changes(
    sessions: sessionmaker[Session], limit: int, project: str | None = None
) -> list[LoggedChange]:
    """The ``limit`` newest target changes, newest first; only those of ``project`` (its
    normalised name, kept after the project is gone) when given."""
    query = select(TargetChange).order_by(TargetChange.id.desc()).limit(limit)
    if project:
        query = query.where(TargetChange.project == project)
    with sessions() as session:
        return [
            LoggedChange(c.id, c.created, c.actor, c.action, c.path, c.published_version)
            for c in session.scalars(query)
        ]


@dataclasses.dataclass(frozen=True)
class Publication:
    """One TUF publication, as the transparency log recorded it."""

    time: dt.datetime
    snapshot_version: int
    timestamp_version: int
    changes: int  # target changes it published


# Leaves read, newest first, to find the last publications among yanks (the other entries
# without a target path): a publication follows every change, so this many is plenty.
_LEAVES_READ = 200


def recent_publications(sessions: sessionmaker[Session], limit: int) -> list[Publication]:
    """The ``limit`` newest publications the transparency log holds, newest first, each
    with the number of target changes its snapshot published."""
    with sessions() as session:
        leaves = session.scalars(
            select(LogLeaf.entry)
            .where(LogLeaf.path.is_(None))
            .order_by(LogLeaf.seq.desc())
            .limit(_LEAVES_READ)
        )
        found = [e for e in map(_entry, leaves) if isinstance(e, Published)][:limit]
        versions = [p.snapshot_version for p in found]
        counted = session.execute(
            select(TargetChange.published_version, func.count(TargetChange.id))
            .where(TargetChange.published_version.in_(versions))
            .group_by(TargetChange.published_version)
        )
        counts = {version: number for version, number in counted if version is not None}
    return [
        Publication(
            p.time, p.snapshot_version, p.timestamp_version, counts.get(p.snapshot_version, 0)
        )
        for p in found
    ]


def _entry(data: bytes) -> Entry | None:
    try:
        return parse_entry(data)
    except EntryError:
        return None
