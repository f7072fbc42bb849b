"""Projects mirrored from an upstream index, as the index records them (``tufpi.upstream``
reads upstream and decides; this module writes).

A mirrored file is listed, and signed, before the index holds it: its row has the length and
sha256 upstream states, ``held`` false, and the URL to fetch it from; its target has no
sha512 yet. Its first download stores it and marks it held (``hold_file``), adding the
sha512 to its target; from then on it is served from storage like an upload, and nothing
upstream does later changes it.

Every function here runs in the caller's transaction, under the project's row lock
(``service.locked_project``), and records target changes there (``trust.changes``), so that
the signer publishes a mirrored page and its files as it publishes an upload.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import CursorResult, delete, exists, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.dialect import dialect_of
from tufpi.db.models import File, Project, RegisteredFilename, Release, UpstreamProject, table_of
from tufpi.index import pages
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename
from tufpi.index.records import (
    bump_serial,
    logged_reason,
    new_project,
    removed_entry,
    storage_key,
)
from tufpi.index.rules import normalize_filename, normalized_filename, release_key
from tufpi.index.upload import Digests
from tufpi.storage import StagedWrites
from tufpi.tlog.entries import Entry, FileAdded, Yanked
from tufpi.transparency import record
from tufpi.trust import changes

ACTOR_PREFIX = "upstream:"


def actor_of(upstream: str) -> str:
    """Who a mirrored change is logged as in the transaction log: ``upstream:<url>``."""
    return f"{ACTOR_PREFIX}{upstream}"[:100]


@dataclasses.dataclass(frozen=True)
class ListedFile:
    """A file an upstream lists, as the index records it before it holds the bytes."""

    dist: DistFilename
    url: str
    sha256: str
    size: int
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    core_metadata_sha256: str | None
    provenance: str | None
    upload_time: dt.datetime | None

    @property
    def key(self) -> str:
        """Where the index will hold it (content-addressed by upstream's sha256)."""
        return storage_key(self.sha256, self.dist.filename)


@dataclasses.dataclass(frozen=True)
class KnownFile:
    """A file row of a project, as mirroring compares it with upstream's listing."""

    filename: str
    normalized: str
    sha256: str
    size: int
    held: bool
    mirrored: bool  # False: uploaded here (a name in ``upstream_allow``)
    yanked: bool
    yanked_reason: str | None


@dataclasses.dataclass(frozen=True)
class MirrorState:
    """What the index knows of one name, for the decision to ask upstream.

    Attributes:
        project_id: None when no project of that name exists.
        upstream: the upstream it is mirrored from; None when it is hosted here only.
        refreshed: when upstream was last read for it.
        local_files: whether files were uploaded here (not mirrored).
    """

    project_id: int | None
    upstream: str | None
    refreshed: dt.datetime | None
    local_files: bool


@dataclasses.dataclass(frozen=True)
class FileYank:
    filename: str
    yanked: bool
    reason: str | None


@dataclasses.dataclass(frozen=True)
class MirrorChange:
    """What one reading of upstream changes (``tufpi.upstream.policy.plan_sync``).

    Attributes:
        name: the project's name as upstream spells it (for a new project).
        upstream: the upstream's base URL; page_url: its page of the project.
        add: files to list (and sign) that the index does not have.
        yanks: files whose yank upstream changed.
        withdraw: mirrored files never held that upstream no longer lists.
    """

    name: str
    upstream: str
    page_url: str
    add: tuple[ListedFile, ...] = ()
    yanks: tuple[FileYank, ...] = ()
    withdraw: tuple[str, ...] = ()

    @property
    def changes_pages(self) -> bool:
        return bool(self.add or self.yanks or self.withdraw)


def mirror_state(session: Session, normalized: str) -> MirrorState:
    """What the index knows of ``normalized`` (two indexed lookups at most)."""
    row = session.execute(
        select(Project.id, UpstreamProject.upstream, UpstreamProject.refreshed)
        .outerjoin(UpstreamProject, UpstreamProject.project_id == Project.id)
        .where(Project.normalized_name == normalized)
    ).first()
    if row is None:
        return MirrorState(None, None, None, local_files=False)
    local = row[1] is None or bool(
        session.scalar(
            select(exists().where(File.project_id == row[0], File.upstream_url.is_(None)))
        )
    )
    return MirrorState(row[0], row[1], row[2], local_files=local)


def known_files(session: Session, project_id: int) -> list[KnownFile]:
    """Every file row of a project, with its release's yank folded in."""
    rows = session.execute(
        select(
            File.filename,
            File.sha256,
            File.size,
            File.held,
            File.upstream_url,
            File.yanked,
            File.yanked_reason,
        ).where(File.project_id == project_id)
    )
    return [
        KnownFile(r[0], _normal(r[0]), r[1], r[2], r[3], r[4] is not None, r[5], r[6]) for r in rows
    ]


def used_elsewhere(session: Session, normalized_names: Sequence[str], project: str) -> set[str]:
    """The normalised filenames among ``normalized_names`` that the filename registry holds
    for another project, or for this one from a file it no longer has (a filename is used
    once, forever: such a file is never listed again)."""
    if not normalized_names:
        return set()
    rows = session.execute(
        select(RegisteredFilename.normalized, RegisteredFilename.project, File.id)
        .outerjoin(File, File.filename == RegisteredFilename.filename)
        .where(RegisteredFilename.normalized.in_(list(normalized_names)))
    )
    return {r[0] for r in rows if r[1] != project or r[2] is None}


def _normal(filename: str) -> str:
    try:
        return normalize_filename(filename)
    except InvalidUpload:  # a filename accepted under older rules
        return filename


def apply_change(
    session: Session,
    writes: StagedWrites,
    project: Project | None,
    change: MirrorChange,
    now: dt.datetime,
) -> Project:
    """Record ``change`` for a project (created when None), its targets and its pages, and
    note that upstream was read now. The caller holds the project's lock and publishes
    ``writes`` after the commit.

    Raises:
        tufpi.trust.errors.NotInitialised: ``tufpi trust init`` has not run.
        StorageFull: no space left for the pages.
    """
    actor = actor_of(change.upstream)
    created = project is None
    if project is None:
        project = new_project(session, change.name, now, None)
    # A local project first read beside upstream (``upstream_allow``): its pages now say so.
    created = _note_read(session, project, change, now) or created
    entries: list[Entry] = []
    if change.add:
        entries += _add_files(session, project, change.add, actor, now)
    if change.yanks:
        entries += _follow_yanks(session, project, change.yanks, now)
    if change.withdraw:
        entries += _withdraw(session, project, change.withdraw, actor, now)
    # In this transaction: the log holds what upstream changed here exactly when it commits.
    record(session, entries)
    if created or change.changes_pages:
        if not created:
            bump_serial(session, project)
        pages.store_pages(session, writes, project, actor, now)
    return project


def _note_read(session: Session, project: Project, change: MirrorChange, now: dt.datetime) -> bool:
    """Record that upstream was read now; True if the project was not mirrored before."""
    row = session.get(UpstreamProject, project.id)
    if row is None:
        session.add(
            UpstreamProject(
                project_id=project.id,
                upstream=change.upstream,
                page_url=change.page_url,
                refreshed=now,
            )
        )
    else:
        row.upstream, row.page_url, row.refreshed = change.upstream, change.page_url, now
    session.flush()
    return row is None


def note_asked(session: Session, normalized: str, now: dt.datetime) -> None:
    """Record that upstream was asked for a mirrored project now, though it gave nothing
    (it failed, or no longer has it): the stored page is served until the next refresh."""
    project_id = select(Project.id).where(Project.normalized_name == normalized)
    session.execute(
        update(UpstreamProject)
        .where(UpstreamProject.project_id == project_id.scalar_subquery())
        .values(refreshed=now)
    )


def _release_id(session: Session, project: Project, listed: ListedFile, now: dt.datetime) -> int:
    canonical = release_key(listed.dist.version)
    found = session.scalar(
        select(Release.id).where(
            Release.project_id == project.id, Release.canonical_version == canonical
        )
    )
    if found is not None:
        return found
    new_id = session.scalar(
        insert(Release)
        .values(
            project_id=project.id,
            version=str(listed.dist.version),
            canonical_version=canonical,
            created=listed.upload_time or now,
            requires_python=listed.requires_python,
            core_metadata={},
            description=None,
            yanked=False,
        )
        .returning(Release.id)
    )
    assert new_id is not None
    return int(new_id)


def _add_files(
    session: Session,
    project: Project,
    listed: Sequence[ListedFile],
    actor: str,
    now: dt.datetime,
) -> list[Entry]:
    """Record the files upstream newly lists; returns their log entries (a file listed
    yanked: its FileAdded, then its Yanked)."""
    rows, registered, targets = [], [], []
    entries: list[Entry] = []
    for f in listed:
        rows.append(
            {
                "release_id": _release_id(session, project, f, now),
                "project_id": project.id,
                "filename": f.dist.filename,
                "path": f.key,
                "packagetype": f.dist.packagetype,
                "python_version": _python_version(f.dist),
                "requires_python": f.requires_python,
                "size": f.size,
                "sha256": f.sha256,
                "metadata_sha256": f.core_metadata_sha256,
                "upload_time": f.upload_time or now,
                "upstream_url": f.url,
                "held": False,
                "yanked": f.yanked,
                "yanked_reason": f.yanked_reason if f.yanked else None,
                "provenance": f.provenance,
            }
        )
        registered.append(
            {
                "filename": f.dist.filename,
                "normalized": normalized_filename(f.dist),
                "project": project.normalized_name,
                "created": now,
            }
        )
        # sha256 only: upstream states no sha512, and the index does not hold the bytes yet.
        targets.append(changes.TargetFile(f.key, f.size, f.sha256, None))
        entries += _listed_entries(project, f, now)
    session.execute(insert(table_of(File)), rows)
    session.execute(insert(table_of(RegisteredFilename)), registered)
    changes.set_targets(
        session,
        targets,
        project_id=project.id,
        project=project.normalized_name,
        actor=actor,
        now=now,
    )
    return entries


def _listed_entries(project: Project, f: ListedFile, now: dt.datetime) -> list[Entry]:
    """A newly listed file's log entries: upstream's sha256 and size, no account (the file
    came from upstream, not from anyone's account here)."""
    version = release_key(f.dist.version)
    added = FileAdded(
        project=project.normalized_name,
        version=version,
        filename=f.dist.filename,
        path=f.key,
        sha256=f.sha256,
        size=f.size,
        time=now,
        via="upstream",
    )
    if not f.yanked:
        return [added]
    reason = logged_reason(f.yanked_reason)
    yanked = Yanked(project.normalized_name, version, True, now, f.dist.filename, reason)
    return [added, yanked]


def _follow_yanks(
    session: Session, project: Project, yanks: Sequence[FileYank], now: dt.datetime
) -> list[Entry]:
    """(Un)yank the files upstream (un)yanked; returns a Yanked entry per file whose yank
    or reason this changed."""
    rows = session.execute(
        select(File.filename, File.yanked, File.yanked_reason, Release.canonical_version)
        .join(Release, Release.id == File.release_id)
        .where(File.project_id == project.id, File.filename.in_([y.filename for y in yanks]))
    )
    current = {r[0]: (r[1], r[2], r[3]) for r in rows}
    entries: list[Entry] = []
    for yank in yanks:
        if yank.filename not in current:
            continue
        reason = yank.reason if yank.yanked else None
        yanked, old_reason, version = current[yank.filename]
        if (yanked, old_reason if yanked else None) == (yank.yanked, reason):
            continue
        session.execute(
            update(File)
            .where(File.project_id == project.id, File.filename == yank.filename)
            .values(yanked=yank.yanked, yanked_reason=reason)
        )
        entries.append(
            Yanked(
                project.normalized_name,
                version,
                yank.yanked,
                now,
                yank.filename,
                logged_reason(reason),
            )
        )
    return entries


def _python_version(dist: DistFilename) -> str:
    """The legacy ``python_version`` field an upload form carries: a wheel's python tags, or
    ``source``."""
    if dist.packagetype != "bdist_wheel":
        return "source"
    return ".".join(sorted({t.interpreter for t in dist.tags})) or "any"


def _withdraw(
    session: Session, project: Project, filenames: Sequence[str], actor: str, now: dt.datetime
) -> list[Entry]:
    """Remove mirrored files never held (their registry entries stay: used once, forever);
    returns a FileRemoved entry for each."""
    files = session.scalars(
        select(File).where(
            File.project_id == project.id,
            File.filename.in_(list(filenames)),
            File.held.is_(False),
            File.upstream_url.is_not(None),
        )
    ).all()
    entries: list[Entry] = []
    for f in files:
        changes.drop_target(session, f.path, project=project.normalized_name, actor=actor, now=now)
        entries.append(removed_entry(project.normalized_name, f, now, None))
        session.delete(f)
    session.flush()
    with_files = select(File.release_id).where(File.project_id == project.id)
    session.execute(
        delete(Release).where(Release.project_id == project.id, Release.id.not_in(with_files))
    )
    return entries


@dataclasses.dataclass(frozen=True)
class HeldFile:
    """A mirrored file's row, as its download needs it."""

    project: str  # normalised name
    project_id: int
    filename: str
    key: str
    url: str
    sha256: str
    size: int
    held: bool
    upstream: str | None  # the project's upstream; None if it is no longer mirrored
    requires_python: str | None
    core_metadata_sha256: str | None
    yanked: bool
    provenance: str | None
    upload_time: dt.datetime


def mirrored_file(session: Session, key: str) -> HeldFile | None:
    """The mirrored file stored (or to be stored) at ``key``; None if ``key`` is no mirrored
    file's."""
    row = session.execute(
        select(
            Project.normalized_name.label("project"),
            File.project_id,
            File.filename,
            File.path.label("key"),
            File.upstream_url.label("url"),
            File.sha256,
            File.size,
            File.held,
            UpstreamProject.upstream,
            File.requires_python,
            File.metadata_sha256.label("core_metadata_sha256"),
            File.yanked,
            File.provenance,
            File.upload_time,
        )
        .join(Project, Project.id == File.project_id)
        .outerjoin(UpstreamProject, UpstreamProject.project_id == File.project_id)
        .where(File.path == key, File.upstream_url.is_not(None))
    ).first()
    return None if row is None else HeldFile(**row._asdict())


# The key space of the advisory locks of downloads from upstream ("tufm"); the project locks
# use another ("tufp", ``service._PROJECT_LOCKS``).
_DOWNLOAD_LOCKS = 0x7475666D


@contextlib.contextmanager
def one_download(sessions: sessionmaker[Session], key: str) -> Iterator[None]:
    """On PostgreSQL, one web node at a time downloads the file at ``key`` from upstream
    (the others wait, then find it held): a session-level advisory lock, on a connection
    kept for the block with no snapshot held. SQLite serves from one node: nothing to do
    (the process's own threads wait on each other in ``tufpi.upstream.mirror``)."""
    with sessions() as session:
        if dialect_of(session) != "postgresql":
            yield
            return
        params = {"space": _DOWNLOAD_LOCKS, "key": key}
        session.execute(text("SELECT pg_advisory_lock(:space, hashtext(:key))"), params)
        try:
            yield
        finally:
            session.execute(text("SELECT pg_advisory_unlock(:space, hashtext(:key))"), params)


def hold_file(session: Session, file: HeldFile, digests: Digests, now: dt.datetime) -> bool:
    """Mark a mirrored file held, with the digests of the bytes the caller stages at its
    key, and complete its target with their sha512. False if it was held already (a
    concurrent download won: the caller discards its copy).

    Raises:
        ValueError: ``digests`` are not those of the file the index signed.
    """
    if digests.sha256 != file.sha256 or digests.size != file.size:
        raise ValueError(
            f"{file.filename}: got {digests.size} bytes with sha256 {digests.sha256}, "
            f"signed {file.size} bytes with sha256 {file.sha256}"
        )
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(File)
        .where(File.path == file.key, File.held.is_(False))
        .values(held=True, sha512=digests.sha512, blake2_256=digests.blake2_256, md5=digests.md5)
    )
    if not done.rowcount:
        return False
    target = changes.TargetFile(file.key, digests.size, digests.sha256, digests.sha512)
    changes.set_targets(
        session,
        [target],
        project_id=file.project_id,
        project=file.project,
        actor=actor_of(file.upstream or file.url),
        now=now,
    )
    return True
