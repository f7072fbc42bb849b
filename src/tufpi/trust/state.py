"""The signer's bookkeeping in the database: role versions and expiry, the pending queue,
superseded files. Portable upserts for SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from tufpi.db.dialect import dialect_of, upsert_insert
from tufpi.db.models import RoleState, Superseded, Target, TargetChange, TrustConfig, table_of
from tufpi.db.raw import driver_rows
from tufpi.trust.layout import BIN_PREFIX, bin_index

T = TypeVar("T")
# Keep statements under SQLite's bound-parameter limit.
CHUNK = 5000
# The expiry written to a role that must be re-signed at the signer's next batch: long past,
# so the signer's "expires soon" check picks it whatever the policy.
DUE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def number_of_bins(session: Session) -> int | None:
    """The bin count chosen at initialisation, or None before ``trust init``."""
    return session.scalar(select(TrustConfig.number_of_bins).order_by(TrustConfig.id.desc()))


def save_role_states(
    session: Session, states: Iterable[tuple[str, int, dt.datetime]], signed: dt.datetime
) -> None:
    """Record (role, version, expires) for each role just published."""
    rows = [{"name": n, "version": v, "expires": e, "signed": signed} for n, v, e in states]
    if not rows:
        return
    stmt = upsert_insert(dialect_of(session), RoleState)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "version": stmt.excluded.version,
            "expires": stmt.excluded.expires,
            "signed": stmt.excluded.signed,
        },
    )
    # One statement, many parameter sets: compiled once, sent in batches by the driver.
    session.execute(stmt, rows)


def pending_in_bins(
    session: Session, bins: Collection[int], number_of_bins: int | None = None
) -> list[int]:
    """The ids of every pending change of ``bins``, in id order (one query, without a bin
    filter, when ``bins`` are all ``number_of_bins`` of them)."""
    pending = select(TargetChange.id).where(TargetChange.published_version.is_(None))
    if number_of_bins is not None and len(set(bins)) == number_of_bins:
        return sorted(row[0] for row in driver_rows(session, pending))
    ids: list[int] = []
    for part in chunks(sorted(bins)):
        ids += session.scalars(pending.where(TargetChange.bin.in_(part)))
    return sorted(ids)


def id_runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted distinct ``ids`` as runs of consecutive integers, (first, last) each (pure)."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def mark_published(
    session: Session, change_ids: Sequence[int], snapshot_version: int, now: dt.datetime
) -> None:
    """Mark ``change_ids`` (sorted, distinct) published: a run of consecutive ids, as a
    back-signing or an import leaves, is one range condition rather than thousands of ids
    (every id of the run is one of ``change_ids``, so no other change is touched)."""
    table = table_of(TargetChange)
    runs = id_runs(change_ids)
    ranges = [{"first": a, "last": b} for a, b in runs if b > a]
    singles = [a for a, b in runs if b == a]
    values = {"published_version": snapshot_version, "published_at": now}
    if ranges:
        session.execute(
            update(table)
            .where(table.c.id.between(bindparam("first"), bindparam("last")))
            .values(**values),
            ranges,
        )
    for part in chunks(singles):
        session.execute(update(table).where(table.c.id.in_(part)).values(**values))


def add_superseded(session: Session, keys: Iterable[str], now: dt.datetime) -> None:
    rows = [{"key": k, "since": now} for k in keys]
    if rows:
        stmt = upsert_insert(dialect_of(session), Superseded).on_conflict_do_nothing(
            index_elements=["key"]
        )
        session.execute(stmt, rows)


def take_sweepable(session: Session, before: dt.datetime, limit: int = 10000) -> list[str]:
    """Keys superseded before ``before``; their rows are deleted (the caller deletes files)."""
    keys = list(
        session.scalars(select(Superseded.key).where(Superseded.since < before).limit(limit))
    )
    for part in chunks(keys):
        session.execute(delete(Superseded).where(Superseded.key.in_(part)))
    return keys


def count_targets(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Target)) or 0)


def make_all_bins_due(session: Session) -> int:
    """Mark every bin-n as ``DUE`` so the signer re-signs them all (with the key it now
    holds) at its next batch, snapshot and timestamp with them; returns how many."""
    result = session.execute(
        update(RoleState).where(RoleState.name.like("bin-%")).values(expires=DUE)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def make_bins_due(session: Session, names: Collection[str]) -> int:
    """Mark the bin-n roles ``names`` as ``DUE`` (other names are ignored), so the signer
    re-signs them at its next batch; returns how many."""
    wanted = sorted(n for n in names if n.startswith(BIN_PREFIX + "-"))
    count = 0
    for part in chunks(wanted):
        result = session.execute(
            update(RoleState).where(RoleState.name.in_(part)).values(expires=DUE)
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count


def role_version(session: Session, name: str) -> int | None:
    """The version the signer's bookkeeping records for ``name`` (None: never recorded)."""
    return session.scalar(select(RoleState.version).where(RoleState.name == name))


def rebin(session: Session, number_of_bins: int, now: dt.datetime) -> int:
    """Re-delegate every target (and pending change) to ``number_of_bins`` bins; forget the
    old bins' bookkeeping. Returns how many targets moved. The caller then rebuilds."""
    session.add(TrustConfig(number_of_bins=number_of_bins, initialised=now))
    paths = list(session.scalars(select(Target.path)))
    for part in chunks(paths):
        # ORM bulk UPDATE by primary key: one executemany per chunk.
        session.execute(
            update(Target), [{"path": p, "bin": bin_index(p, number_of_bins)} for p in part]
        )
    pending = session.execute(
        select(TargetChange.id, TargetChange.path).where(TargetChange.published_version.is_(None))
    ).all()
    for rows in chunks(pending):
        session.execute(
            update(TargetChange),
            [{"id": i, "bin": bin_index(p, number_of_bins)} for i, p in rows],
        )
    session.execute(delete(RoleState).where(RoleState.name.like("bin-%")))
    return len(paths)
