"""Repair what a killed process left in the storage's staging area.

An upload, import, yank or removal stages its files, commits its rows, then publishes the
files. A process killed before the commit leaves staged files that no row backs: they are
deleted. One killed between the commit and the publication leaves staged files whose rows
exist: they are published. ``decide`` is that choice, pure; ``sweep`` does the I/O around it.
It runs when ``tufpi serve`` and ``tufpi import`` start and in the signer's loop.
"""

from __future__ import annotations

import dataclasses
import enum
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import File, TargetChange
from tufpi.index.records import file_key_of
from tufpi.storage import StagedEntry, Storage
from tufpi.trust import layout

log = logging.getLogger("tufpi.sweep")
# A staged write whose writer still runs is left alone for this long (seconds): the upload
# or removal that staged it is still deciding. Past it, one whose rows exist is published
# (its publication failed); temporary files of live processes are deleted.
MAX_AGE = 3600.0


class Action(enum.Enum):
    PUBLISH = "publish"
    DISCARD = "discard"
    KEEP = "keep"


def decide(committed: bool, writer_alive: bool, age: float, max_age: float = MAX_AGE) -> Action:
    """What to do with one staged write.

    Args:
        committed: rows backing it exist (its transaction committed).
        writer_alive: the process that staged it still runs (and may publish or discard it).
        age: seconds since it was staged.
        max_age: how long a live writer's entry is left alone.
    """
    if writer_alive and age < max_age:
        return Action.KEEP
    if committed:
        return Action.PUBLISH
    # A live writer's uncommitted entry is kept: its transaction may still commit.
    return Action.KEEP if writer_alive else Action.DISCARD


def is_committed(session: Session, key: str) -> bool:
    """Whether a committed row backs ``key``: a distribution's file row (for the file, its
    consistent-snapshot alias and its .metadata), or a page's target change."""
    file_key = file_key_of(key)
    if file_key is not None:
        # A mirrored file not held yet has a row but no bytes: a download killed before its
        # commit left what no row backs.
        held = select(File.id).where(File.path == file_key, File.held.is_(True))
        return session.scalar(held) is not None
    page = _page_target(key)
    if page is None:
        return False
    path, sha256 = page
    found = select(TargetChange.id).where(
        TargetChange.path == path, TargetChange.sha256 == sha256, TargetChange.action == "add"
    )
    return session.scalar(found.limit(1)) is not None


def _page_target(key: str) -> tuple[str, str] | None:
    """(target path, sha256) of a page's consistent-snapshot key
    ``simple/<name>/<sha256>.<file>``, else None."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "simple":
        return None
    sha256, dot, filename = parts[2].partition(".")
    if not dot or len(sha256) != 64:
        return None
    return layout.page_path(parts[1], filename), sha256


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What one sweep did."""

    published: int
    discarded: int
    kept: int
    scratch_deleted: int

    @property
    def changed(self) -> bool:
        return bool(self.published or self.discarded or self.scratch_deleted)


def sweep(
    sessions: sessionmaker[Session], storage: Storage, now: float, max_age: float = MAX_AGE
) -> SweepResult:
    """Publish or delete every staged write a dead (or stuck) process left, and delete
    temporary files of dead processes (and old ones of live processes).

    Args:
        now: the wall-clock time in seconds since the epoch (``clock().timestamp()``).
    """
    counts = dict.fromkeys(Action, 0)
    with sessions() as session:
        for entry in storage.staged_entries(now):
            action = decide(
                _committed(session, entry, max_age), entry.writer_alive, entry.age, max_age
            )
            counts[action] += 1
            if action is Action.PUBLISH:
                storage.publish(entry.staged)
            elif action is Action.DISCARD:
                storage.discard(entry.staged)
    scratch = storage.clear_scratch(now, max_age)
    result = SweepResult(
        counts[Action.PUBLISH], counts[Action.DISCARD], counts[Action.KEEP], scratch
    )
    if result.changed:
        log.info(
            "sweep: published %d staged files whose rows had committed, deleted %d "
            "uncommitted ones and %d temporary files",
            result.published,
            result.discarded,
            result.scratch_deleted,
        )
    return result


def _committed(session: Session, entry: StagedEntry, max_age: float) -> bool:
    if entry.writer_alive and entry.age < max_age:
        return False  # not asked: decide keeps it whatever the rows say
    return is_committed(session, entry.staged.key)
