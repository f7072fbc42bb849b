"""Record target changes inside the caller's transaction (the web's upload, yank, removal).

The row in ``targets`` is what the signer will sign; the row in ``target_changes`` is the
transaction log entry and the signer's cue. Both commit with the change that caused them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, or_
from sqlalchemy.orm import Session

from tufpi.db.dialect import dialect_of, upsert_insert
from tufpi.db.models import Target, TargetChange, table_of
from tufpi.trust import layout, state
from tufpi.trust.errors import NotInitialised

_BINS_KEY = "tufpi.trust.bins"


def bins_of(session: Session) -> int:
    """The repository's bin count, read once per transaction. Raises NotInitialised.

    An upload sets its file's target, then its pages' (``set_targets`` twice), in one
    transaction: one query, not two.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_BINS_KEY)
    if transaction is not None and cached is not None and cached[0] is transaction:
        return int(cached[1])
    bins = state.number_of_bins(session)
    if bins is None:
        raise NotInitialised(
            "The index's repository metadata is not initialised: run `tufpi trust init`."
        )
    session.info[_BINS_KEY] = (transaction, bins)
    return bins


@dataclasses.dataclass(frozen=True)
class TargetFile:
    """What a target says of a file: its path and, for clients to check, length and hashes.

    ``sha512`` is None for a mirrored file the index does not hold yet (upstream states its
    sha256 only); the target lists the hashes it has.
    """

    path: str
    length: int
    sha256: str
    sha512: str | None


def set_targets(
    session: Session,
    targets: Sequence[TargetFile],
    *,
    project_id: int | None,
    project: str | None,
    actor: str,
    now: dt.datetime,
) -> None:
    """Add or replace ``targets``, logging a change for each one that differs from its row.
    One upsert and one insert, however many targets.

    ``project_id`` and ``project`` (its normalised name) say which project they belong to.
    Core statements, not ORM objects, built once: this runs in every upload.
    """
    if not targets:
        return
    bins = bins_of(session)
    binned = [(t, layout.bin_index(t.path, bins)) for t in targets]
    rows = [
        {
            "path": t.path,
            "bin": index,
            "length": t.length,
            "sha256": t.sha256,
            "sha512": t.sha512,
            "project_id": project_id,
        }
        for t, index in binned
    ]
    # Many parameter sets, one statement sent: SQLAlchemy's "insertmanyvalues".
    changed = set(session.scalars(_target_upsert(dialect_of(session)), rows))
    log = [
        {
            "path": t.path,
            "bin": index,
            "action": "add",
            "length": t.length,
            "sha256": t.sha256,
            "sha512": t.sha512,
            "actor": actor,
            "project": project,
            "created": now,
        }
        for t, index in binned
        if t.path in changed
    ]
    if log:
        session.execute(_LOG_CHANGE, log)


# Built once: a statement built for each upload costs more to construct and look up in
# SQLAlchemy's compiled cache than to run.
_LOG_CHANGE = insert(table_of(TargetChange))


@functools.cache
def _target_upsert(dialect: str) -> Any:
    """INSERT a target, or UPDATE its row if its length or hashes differ; RETURNING the
    path of each row inserted or changed (an unchanged row has no change to log)."""
    table = table_of(Target)
    upsert = upsert_insert(dialect, table)
    new = upsert.excluded
    return upsert.on_conflict_do_update(
        index_elements=[table.c.path],
        set_={"length": new.length, "sha256": new.sha256, "sha512": new.sha512},
        where=or_(
            table.c.length != new.length,
            table.c.sha256 != new.sha256,
            # NULL-safe: a mirrored file's sha512 arrives once the index holds it.
            table.c.sha512.is_distinct_from(new.sha512),
        ),
    ).returning(table.c.path)


def drop_target(
    session: Session, path: str, *, project: str | None, actor: str, now: dt.datetime
) -> None:
    """Remove the target at ``path`` (if present); logs the change."""
    row = session.get(Target, path)
    if row is None:
        return
    session.delete(row)
    session.add(
        TargetChange(
            path=path, bin=row.bin, action="remove", actor=actor, project=project, created=now
        )
    )
