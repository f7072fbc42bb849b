"""Write log entries in the transaction of the event they record.

An upload, a yank, a removal, an import or a mirrored listing commits its entries with its
rows, or neither: the log can never miss an event the index published, nor hold one it did
not. The sequencer appends them to the log in ``id`` order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tufpi.db.models import LogPending, table_of
from tufpi.tlog.entries import Entry, encode_entry

_INSERT = insert(table_of(LogPending))


def record(session: Session, entries: Sequence[Entry]) -> None:
    """Add ``entries`` to the log's pending queue in ``session``'s transaction, in order.

    Raises:
        tufpi.tlog.entries.EntryError: an entry could not be encoded.
    """
    if entries:
        session.execute(_INSERT, [{"entry": encode_entry(entry)} for entry in entries])
