"""What an accepted distribution leaves behind: its stored files, its rows and its target.

Shared by the upload API (``IndexService.upload``) and ``tufpi import``, so that an imported
file is indistinguishable from an uploaded one. The caller holds the project's row lock and
re-renders the project's pages (``pages.store_pages``) once its files are recorded.

Files are staged (``stage_dist``), never served, until the transaction recording them has
committed; the caller then publishes them (``StagedWrites.publish``), or discards them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection

from packaging.version import Version
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tufpi.db.models import File, Owner, Project, RegisteredFilename, Release, table_of
from tufpi.index.names import normalize
from tufpi.index.rules import UsedFilename, normalized_filename, release_key
from tufpi.index.upload import InspectedDist
from tufpi.storage import StagedWrites
from tufpi.tlog.entries import FileAdded, FileRemoved
from tufpi.trust import changes, layout


def storage_key(sha256: str, filename: str) -> str:
    """Where a distribution lives: content-addressed like PyPI, so a path never changes meaning."""
    return f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{filename}"


def core_metadata_key(file_key: str) -> str:
    """Where a distribution's core metadata file is stored (PEP 658: the distribution's URL
    plus ``.metadata``); not to be confused with trust.layout.metadata_key, a TUF role's."""
    return file_key + ".metadata"


def stage_dist(writes: StagedWrites, dist: InspectedDist) -> str:
    """Stage the file, its consistent-snapshot alias and its .metadata; returns its key.

    Nothing is visible until ``writes`` is published, after the commit of the file's row.

    Raises:
        StorageFull: no space left.
    """
    digests = dist.staged.digests
    key = storage_key(digests.sha256, dist.dist.filename)
    writes.stage(key, dist.staged.path)
    writes.stage(layout.consistent_path(key, digests.sha256), dist.staged.path)
    writes.stage(core_metadata_key(key), dist.metadata)
    return key


def dist_keys(key: str, sha256: str) -> tuple[str, str, str]:
    """Every key a distribution stored at ``key`` occupies: itself, its consistent-snapshot
    alias and its .metadata."""
    return key, layout.consistent_path(key, sha256), core_metadata_key(key)


def file_key_of(key: str) -> str | None:
    """The distribution key that a stored ``key`` belongs to (itself, its alias or its
    .metadata), or None if ``key`` is no distribution's."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != "packages":
        return None
    if key.endswith(".metadata"):
        key, parts[4] = key.removesuffix(".metadata"), parts[4].removesuffix(".metadata")
    sha256 = "".join(parts[1:4])
    if parts[4].startswith(sha256 + "."):
        return "/".join([*parts[:4], parts[4][len(sha256) + 1 :]])
    return key


def new_project(session: Session, name: str, created: dt.datetime, owner_id: int | None) -> Project:
    """Add a project row (its serial is bumped by each file recorded), owned by
    ``owner_id`` when given."""
    project = Project(name=name, normalized_name=normalize(name), created=created, serial=1)
    session.add(project)
    session.flush()
    if owner_id is not None:
        session.add(Owner(project_id=project.id, user_id=owner_id))
    return project


@dataclasses.dataclass(frozen=True)
class ReleaseInfo:
    """What a release row takes from the first file recorded for it."""

    version: str  # the normalised PEP 440 version (``str(Version(...))``)
    created: dt.datetime
    description: str | None


@dataclasses.dataclass(frozen=True)
class ReleaseRef:
    """The release a file is recorded under."""

    id: int
    version: str
    canonical: str  # ``releases.canonical_version``: what the log's entries name


def release_for(
    session: Session, project: Project, info: ReleaseInfo, dist: InspectedDist
) -> ReleaseRef:
    """The project's release of ``info.version`` (by its canonical version: ``1.0.0`` is
    release ``1.0``), created from ``dist`` if it is the first."""
    canonical = release_key(Version(info.version))
    found = session.execute(
        _FIND_RELEASE, {"project_id": project.id, "canonical": canonical}
    ).first()
    if found is not None:
        return ReleaseRef(found[0], found[1], canonical)
    params = {
        "project_id": project.id,
        "version": info.version,
        "canonical_version": canonical,
        "created": info.created,
        "requires_python": dist.requires_python,
        "core_metadata": dist.fields,
        "description": info.description,
    }
    new_id = session.scalar(_ADD_RELEASE, params)
    assert new_id is not None
    return ReleaseRef(new_id, info.version, canonical)


# Statements built once (an upload runs each): see ``changes.set_targets``.
_RELEASES = table_of(Release).c
_FIND_RELEASE = select(_RELEASES.id, _RELEASES.version).where(
    _RELEASES.project_id == bindparam("project_id"),
    _RELEASES.canonical_version == bindparam("canonical"),
)
_ADD_RELEASE = insert(table_of(Release)).returning(_RELEASES.id)
_ADD_FILE = insert(table_of(File))
_REGISTER = insert(table_of(RegisteredFilename))
_PROJECTS = table_of(Project).c
_BUMP_SERIAL = (
    update(table_of(Project))
    .where(_PROJECTS.id == bindparam("project_id"))
    .values(serial=_PROJECTS.serial + 1)
)


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a file row records beyond the distribution itself, and what its log entry says
    of how it came (``via``: ``upload`` or ``import``) and who added it (``account`` and
    ``token``: the uploader's user name and token id; None for an import)."""

    key: str  # from ``stage_dist``
    python_version: str
    upload_time: dt.datetime
    uploader_id: int | None
    actor: str  # the target change's actor
    via: str = "upload"
    account: str | None = None
    token: int | None = None


def add_file(
    session: Session,
    project: Project,
    release: ReleaseRef,
    dist: InspectedDist,
    info: FileInfo,
    now: dt.datetime,
) -> FileAdded:
    """Add the file row, its filename to the registry and its target; bump the serial.

    Returns the file's log entry (its time ``now``: when this index accepted it; an imported
    file's ``upload_time`` may be older), which the caller records
    (``tufpi.transparency.record``) in this same transaction: an import records a project's
    entries in one statement.
    Core statements rather than ORM objects: this runs in every upload and import.

    Raises:
        tufpi.trust.errors.NotInitialised: ``tufpi trust init`` has not run.
    """
    digests = dist.staged.digests
    row = {
        "release_id": release.id,
        "project_id": project.id,
        "filename": dist.dist.filename,
        "path": info.key,
        "packagetype": dist.dist.packagetype,
        "python_version": info.python_version,
        "requires_python": dist.requires_python,
        "size": digests.size,
        "sha256": digests.sha256,
        "sha512": digests.sha512,
        "blake2_256": digests.blake2_256,
        "md5": digests.md5,
        "metadata_sha256": dist.metadata_sha256,
        "metadata_size": len(dist.metadata),
        "upload_time": info.upload_time,
        "uploader_id": info.uploader_id,
    }
    session.execute(_ADD_FILE, row)
    registered = {
        "filename": dist.dist.filename,
        "normalized": normalized_filename(dist.dist),
        "project": project.normalized_name,
        "created": now,
    }
    session.execute(_REGISTER, registered)
    target = changes.TargetFile(info.key, digests.size, digests.sha256, digests.sha512)
    changes.set_targets(
        session,
        [target],
        project_id=project.id,
        project=project.normalized_name,
        actor=info.actor,
        now=now,
    )
    bump_serial(session, project)
    return FileAdded(
        project=project.normalized_name,
        version=release.canonical,
        filename=dist.dist.filename,
        path=info.key,
        sha256=digests.sha256,
        size=digests.size,
        time=now,
        via=info.via,
        account=info.account,
        token=info.token,
    )


# The characters of a yank's reason a log entry keeps: even escaped (at most 12 bytes a
# character) it fits an entry (65,535 bytes), whatever length upstream or an admin gave.
LOGGED_REASON_CHARS = 2000


def logged_reason(reason: str | None) -> str | None:
    """A yank's reason as its log entry says it: cut to ``LOGGED_REASON_CHARS``."""
    return None if reason is None else reason[:LOGGED_REASON_CHARS]


def removed_entry(project: str, file: File, now: dt.datetime, account: str | None) -> FileRemoved:
    """The log entry of ``file``'s removal from ``project`` (its normalised name), which the
    caller records in the removal's transaction."""
    return FileRemoved(
        project=project,
        version=file.release.canonical_version,
        filename=file.filename,
        path=file.path,
        sha256=file.sha256,
        time=now,
        account=account,
    )


def bump_serial(session: Session, project: Project) -> None:
    """Add one to the project's serial, in the database and in ``project``, with one UPDATE
    (a changed ORM object would cost a unit-of-work flush)."""
    session.execute(_BUMP_SERIAL, {"project_id": project.id})
    set_committed_value(project, "serial", project.serial + 1)


def used_filenames(session: Session, normalized: Collection[str]) -> list[UsedFilename]:
    """Every filename ever recorded whose normal form is among ``normalized``, with the
    sha256 of the file it names today (None once removed)."""
    if not normalized:
        return []
    rows = session.execute(
        select(RegisteredFilename.filename, RegisteredFilename.normalized, File.sha256)
        .outerjoin(File, File.filename == RegisteredFilename.filename)
        .where(RegisteredFilename.normalized.in_(list(normalized)))
        .order_by(RegisteredFilename.id)
    )
    return [UsedFilename(r[0], r[1], r[2]) for r in rows]
