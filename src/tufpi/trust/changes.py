"""Record target changes inside the caller's transaction (the web's upload, yank, removal).

The row in ``targets`` is what the signer will sign; the row in ``target_changes`` is the
transaction log entry and the signer's cue. Both commit with the change that caused them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tufpi.db.models import Target, TargetChange
from tufpi.trust import layout, state


class TrustNotInitialised(Exception):
    """Targets cannot be recorded before ``tufpi trust init``."""


_BINS_KEY = "tufpi.trust.bins"


def bins_of(session: Session) -> int:
    """The repository's bin count, read once per transaction. Raises TrustNotInitialised.

    An upload sets three targets (its file and two pages) in one transaction: one query,
    not three.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_BINS_KEY)
    if transaction is not None and cached is not None and cached[0] is transaction:
        return int(cached[1])
    bins = state.number_of_bins(session)
    if bins is None:
        raise TrustNotInitialised(
            "The index's repository metadata is not initialised: run `tufpi trust init`."
        )
    session.info[_BINS_KEY] = (transaction, bins)
    return bins


def set_target(
    session: Session,
    path: str,
    *,
    length: int,
    sha256: str,
    sha512: str,
    project_id: int | None,
    project: str | None,
    actor: str,
    now: dt.datetime,
) -> None:
    """Add or replace the target at ``path``; logs the change. No-op if nothing differs.

    ``project_id`` and ``project`` (its normalised name) say which project it belongs to.
    """
    bins = bins_of(session)
    index = layout.bin_index(path, bins)
    row = session.get(Target, path)
    if row is not None and (row.length, row.sha256, row.sha512) == (length, sha256, sha512):
        return
    if row is None:
        session.add(
            Target(
                path=path,
                bin=index,
                length=length,
                sha256=sha256,
                sha512=sha512,
                project_id=project_id,
            )
        )
    else:
        row.length, row.sha256, row.sha512 = length, sha256, sha512
    session.add(
        TargetChange(
            path=path,
            bin=index,
            action="add",
            length=length,
            sha256=sha256,
            sha512=sha512,
            actor=actor,
            project=project,
            created=now,
        )
    )


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
