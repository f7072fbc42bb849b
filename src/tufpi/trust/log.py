"""The transaction log (``tufpi trust log``): the target changes, newest first, as plain rows.

Every target added or removed, who did it, and which snapshot published it (none yet: the
change is pending).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import TargetChange


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
