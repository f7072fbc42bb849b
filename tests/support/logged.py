"""The transparency-log entries an index has recorded, read from its database: those the
sequencer has appended (``log_leaves``, in leaf order) then those still pending
(``log_pending``, in ``id`` order), each parsed strictly (``tufpi.tlog.entries.parse_entry``).

Reading both tables makes a test's expectations independent of whether a signer has
sequenced the entries yet.
"""

from __future__ import annotations

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.orm import Session

from tufpi.tlog.entries import Entry, parse_entry

_LEAVES = "SELECT entry FROM log_leaves ORDER BY seq"
_PENDING = "SELECT entry FROM log_pending ORDER BY id"


def entries_in(db: Session | Connection) -> list[Entry]:
    """Every entry recorded, sequenced ones first, as the database ``db`` reads them now."""
    rows = [*db.execute(text(_LEAVES)), *db.execute(text(_PENDING))]
    return [parse_entry(bytes(row[0])) for row in rows]


def logged(database_url: str) -> list[Entry]:
    """``entries_in`` the database at ``database_url``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return entries_in(conn)
    finally:
        engine.dispose()


def events_logged(database_url: str) -> list[Entry]:
    """The entries of kinds other than ``publication`` (what events recorded)."""
    return [e for e in logged(database_url) if e.kind != "publication"]
