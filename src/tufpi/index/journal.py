"""The journal: who did what to the index, and how (PyPI's journal).

Each action writes its entry with ``write`` in the transaction of the change itself, so the
change and its entry commit together or not at all. The signed side of the same change is
in ``target_changes`` and the transparency log; the journal adds the account and the way
(``via``: ``"token 12"``, ``"web"``, ``"server"``) it came.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tufpi.db.models import JournalEntry

# The actions, as the journal names them (``JournalEntry.action``).
FILE_ADDED = "file added"
RELEASE_YANKED = "release yanked"
RELEASE_UNYANKED = "release unyanked"
FILE_REMOVED = "file removed"
RELEASE_REMOVED = "release removed"
PROJECT_REMOVED = "project removed"
OWNER_ADDED = "owner added"
OWNER_REMOVED = "owner removed"
TOKEN_CREATED = "token created"  # noqa: S105 - an action, not a secret
TOKEN_REVOKED = "token revoked"  # noqa: S105 - an action, not a secret

# What the administrator's server commands record as account and way.
SERVER_ACCOUNT = "admin"
SERVER_VIA = "server"
_DETAIL_CHARS = 2000  # a yank's reason is at most 1000; a detail never grows a row past this


@dataclasses.dataclass(frozen=True)
class JournalView:
    """One journal entry, as pages and the API show it."""

    id: int
    time: dt.datetime
    project: str | None
    action: str
    account: str
    via: str
    detail: str


def write(
    session: Session,
    now: dt.datetime,
    project: str | None,
    action: str,
    account: str,
    via: str,
    detail: str = "",
) -> None:
    """Add one entry to ``session`` (the change's own transaction). ``project`` is the
    normalised name, None for an action on an account only."""
    session.add(
        JournalEntry(
            time=now,
            project=project,
            action=action,
            account=account,
            via=via,
            detail=detail[:_DETAIL_CHARS],
        )
    )


def write_all(
    session: Session,
    now: dt.datetime,
    project: str,
    action: str,
    account: str,
    via: str,
    details: list[str],
) -> None:
    """One entry per detail, all alike but for it, in one statement (an import's files)."""
    if not details:
        return
    rows = [
        {
            "time": now,
            "project": project,
            "action": action,
            "account": account,
            "via": via,
            "detail": detail[:_DETAIL_CHARS],
        }
        for detail in details
    ]
    session.execute(insert(JournalEntry), rows)


def entries(session: Session, project: str | None, limit: int = 200) -> list[JournalView]:
    """The newest ``limit`` entries, newest first: of ``project`` (normalised), or of
    every project and account when None."""
    query = select(JournalEntry).order_by(JournalEntry.id.desc()).limit(max(0, limit))
    if project is not None:
        query = query.where(JournalEntry.project == project)
    return [
        JournalView(e.id, e.time, e.project, e.action, e.account, e.via, e.detail)
        for e in session.scalars(query)
    ]
