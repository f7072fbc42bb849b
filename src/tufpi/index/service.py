"""The index's writes and reads on the database and storage: upload, yank, remove, read.

Every write that changes what clients may download also changes targets (``trust.changes``)
and re-renders the project's pages, in the same transaction, under the project's row lock.
What it stores is staged first and made visible only after that transaction commits, so
nothing a refused, failed or killed write touched is ever served (``tufpi.index.sweep``
repairs what a kill between the commit and the publication leaves).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from packaging.version import InvalidVersion, Version
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tufpi.clock import Clock
from tufpi.db.dialect import dialect_of
from tufpi.db.models import File, Owner, Project, Release, Target, UpstreamProject
from tufpi.index import journal, pages
from tufpi.index.accounts import Identity
from tufpi.index.errors import (
    Forbidden,
    InsufficientStorage,
    InvalidUpload,
    NotFound,
    Unavailable,
)
from tufpi.index.names import DistFilename, normalize
from tufpi.index.queries import load_detail
from tufpi.index.records import (
    FileInfo,
    ReleaseInfo,
    add_file,
    bump_serial,
    dist_keys,
    logged_reason,
    new_project,
    release_for,
    removed_entry,
    stage_dist,
    storage_key,
    used_filenames,
)
from tufpi.index.rules import check_unused, normalize_filename, normalized_filename, release_key
from tufpi.index.upload import InspectedDist, UploadForm
from tufpi.index.views import ProjectDetail
from tufpi.storage import StagedWrites, Storage, StorageError, StorageFull, is_disk_full
from tufpi.tlog.entries import Yanked
from tufpi.transparency import record
from tufpi.trust import changes, layout
from tufpi.trust.errors import NotInitialised

log = logging.getLogger("tufpi.index")

ADMIN = journal.SERVER_ACCOUNT
# Run under the project's lock before a yank or removal changes anything (the maintainers'
# ownership check, ``MaintainerService``): a refusal raised there changes nothing.
Check = Callable[[Session, Project], None]
# The key space of the projects' advisory locks ("tufp"); the two-key form never collides
# with the signer's one-key election lock.
_PROJECT_LOCKS = 0x74756670
# storage_key stays importable from here, where it used to live.
__all__ = ["ADMIN", "Check", "IndexService", "UploadResult", "locked_project", "storage_key"]
# The named steps of an upload, where the crash tests kill the server (``checkpoint``).
UPLOAD_STEPS = ("staged", "recorded", "committed", "visible")
FULL_MESSAGE = "The index's storage is full; nothing was stored. Try again later."


def _lock_name(session: Session, normalized: str) -> None:
    """On PostgreSQL, lock the project's name until the transaction ends.

    ``FOR UPDATE`` cannot lock a row that does not exist yet: two first uploads of a new
    project (say through two web nodes) would both insert it, and one would fail. This
    serialises them; the second then finds, and locks, the first one's row. (SQLite needs
    nothing: BEGIN IMMEDIATE already serialises writers.)
    """
    if dialect_of(session) == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
            {"space": _PROJECT_LOCKS, "name": normalized},
        )


@contextmanager
def locked_project(
    writes: sessionmaker[Session], normalized: str
) -> Iterator[tuple[Session, Project | None]]:
    """A write transaction holding ``normalized``'s row lock (PostgreSQL: FOR UPDATE;
    SQLite: the database write lock taken at BEGIN IMMEDIATE)."""
    with writes.begin() as session:
        _lock_name(session, normalized)
        project = session.scalar(
            select(Project).where(Project.normalized_name == normalized).with_for_update()
        )
        yield session, project


@dataclasses.dataclass(frozen=True)
class UploadResult:
    filename: str
    project: str
    version: str
    created: bool  # False: an identical file was already there


def _named(files: list[File], filename: str) -> list[File]:
    """The file ``filename`` names, by its normalised form when it parses (``X-1.0.0.tar.gz``
    finds ``x-1.0.tar.gz``), else by the exact name."""
    exact = [f for f in files if f.filename == filename]
    wanted = _normal_or_none(filename)
    if exact or wanted is None:
        return exact
    return [f for f in files if _normal_or_none(f.filename) == wanted]


def _normal_or_none(filename: str) -> str | None:
    try:
        return normalize_filename(filename)
    except InvalidUpload:
        return None


def _removal(
    project: str, version: str | None, one_file: bool, filenames: list[str]
) -> tuple[str, str]:
    """The journal's action and detail for removing ``filenames``: one file, a release
    (``version``), or the whole ``project`` (``version`` None)."""
    names = ", ".join(filenames)
    if one_file:
        return journal.FILE_REMOVED, names
    if version is None:
        return journal.PROJECT_REMOVED, f"{project}: {names}" if names else project
    return journal.RELEASE_REMOVED, f"{version}: {names}" if names else version


def upstream_name_refusal(name: str, upstream: str) -> str:
    """Why an upload to a project mirrored from upstream is refused."""
    return (
        f"Project {name!r} is upstream's: this index mirrors it from {upstream}, so it cannot "
        "be uploaded here (a local project of an upstream name is how dependency confusion "
        "works). An administrator may name it in upstream_allow to host it here too."
    )


class IndexService:
    """Database and storage operations of the index. Pure checks live in ``upload``/``names``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        writes: sessionmaker[Session],
        storage: Storage,
        clock: Clock,
        upstream_allow: frozenset[str] = frozenset(),
    ) -> None:
        """``upstream_allow``: names that may be uploaded here although they are mirrored
        from upstream (``Settings.upstream_allow``)."""
        self.sessions = sessions
        self.writes = writes
        self.storage = storage
        self.clock = clock
        self.upstream_allow = upstream_allow
        # Called at each of UPLOAD_STEPS (crash tests kill the process there).
        self.checkpoint: Callable[[str], None] = lambda _step: None

    # -- uploads ----------------------------------------------------------------------------

    def find_duplicate(self, dist: DistFilename, sha256: str) -> bool:
        """True if this exact file is stored; InvalidUpload if its normalised filename was
        ever used otherwise (``rules.check_unused``)."""
        with self.sessions() as session:
            return self._duplicate(session, dist, sha256)

    @staticmethod
    def _duplicate(session: Session, dist: DistFilename, sha256: str) -> bool:
        used = used_filenames(session, [normalized_filename(dist)])
        return check_unused(dist, sha256, used)

    def _check_owner(self, session: Session, who: Identity, project: Project) -> None:
        is_owner = session.scalar(
            select(Owner.id).where(Owner.project_id == project.id, Owner.user_id == who.user_id)
        )
        if is_owner is None:
            raise Forbidden(f"User {who.user_name!r} is not an owner of project {project.name!r}.")

    def _check_may_upload(
        self, who: Identity, normalized: str, dist: DistFilename, sha256: str
    ) -> bool:
        """Token scope and ownership, before anything is stored or an existing file revealed;
        then whether this exact file is already stored (``find_duplicate``).

        Read-only, in one read transaction (each costs round trips to the database); the
        upload's transaction checks ownership again under the project's lock.
        """
        if who.project_scope is not None and who.project_scope != normalized:
            raise Forbidden(
                f"This API token is limited to project {who.project_scope!r}; "
                f"it cannot upload to {normalized!r}."
            )
        with self.sessions() as session:
            owned = session.execute(
                select(Project.name, Owner.id, UpstreamProject.upstream)
                .outerjoin(Owner, (Owner.project_id == Project.id) & (Owner.user_id == who.user_id))
                .outerjoin(UpstreamProject, UpstreamProject.project_id == Project.id)
                .where(Project.normalized_name == normalized)
            ).first()
            if owned is not None and owned[2] is not None and normalized not in self.upstream_allow:
                raise Forbidden(upstream_name_refusal(owned[0], owned[2]))
            if owned is not None and owned[1] is None:
                raise Forbidden(f"User {who.user_name!r} is not an owner of project {owned[0]!r}.")
            return self._duplicate(session, dist, sha256)

    def upload(self, who: Identity, form: UploadForm, dist: InspectedDist) -> UploadResult:
        """Record an inspected distribution, its target and its project's new pages.

        The files are staged, the rows committed, and only then are the files made visible;
        a refused or failed upload leaves nothing stored.

        Raises:
            Forbidden: the caller may not upload to this project.
            InvalidUpload: the normalised filename was used before (``rules``).
            NotInitialised: ``tufpi trust init`` has not run.
            InsufficientStorage: the storage is full.
        """
        digests = dist.staged.digests
        filename = dist.dist.filename
        normalized = normalize(form.name)
        if self._check_may_upload(who, normalized, dist.dist, digests.sha256):
            return UploadResult(filename, form.name, str(form.version), created=False)
        with self._staged_writes() as writes:
            result = self._record(who, form, dist, writes)
            if not result.created:
                writes.discard()
        if result.created:
            self._withdraw_if_removed(storage_key(digests.sha256, filename), digests.sha256)
        return result

    def _withdraw_if_removed(self, key: str, sha256: str) -> None:
        """Delete what this upload just published if its row is gone: a removal that
        committed between this upload's commit and its publication found nothing to hide
        (``remove`` also deletes the keys after its commit; between them, one of the two
        sees the other). The filename can never be used again, so nothing else owns ``key``.
        """
        with self.sessions() as session:
            if session.scalar(select(File.id).where(File.path == key)) is not None:
                return
        log.warning("%s was removed while it was being published; withdrawn", key)
        for alias in dist_keys(key, sha256):
            self.storage.delete(alias)

    def _record(
        self, who: Identity, form: UploadForm, dist: InspectedDist, writes: StagedWrites
    ) -> UploadResult:
        """Stage the files, then commit the rows; nothing staged is visible yet."""
        digests = dist.staged.digests
        filename = dist.dist.filename
        normalized = normalize(form.name)
        key = stage_dist(writes, dist)
        self.checkpoint("staged")
        now = self.clock()
        try:
            with locked_project(self.writes, normalized) as (session, existing):
                if existing is None:
                    project = new_project(session, form.name, self.clock(), who.user_id)
                else:
                    project = existing
                    self._check_owner(session, who, project)
                # Again under the lock: a concurrent upload may have used the name since.
                if self._duplicate(session, dist.dist, digests.sha256):
                    return UploadResult(filename, project.name, str(form.version), False)
                info = ReleaseInfo(str(form.version), self.clock(), form.description)
                release = release_for(session, project, info, dist)
                file_info = FileInfo(
                    key,
                    form.pyversion,
                    now,
                    who.user_id,
                    who.user_name,
                    via="upload",
                    account=who.user_name,
                    token=who.token_id,
                )
                record(session, [add_file(session, project, release, dist, file_info, now)])
                journal.write(
                    session,
                    now,
                    project.normalized_name,
                    journal.FILE_ADDED,
                    who.user_name,
                    who.via,
                    filename,
                )
                pages.store_pages(session, writes, project, who.user_name, now)
                self.checkpoint("recorded")
        except NotInitialised as e:
            raise Unavailable(str(e)) from e
        except IntegrityError as e:
            # A concurrent upload won a race on this filename or project name.
            if self.find_duplicate(dist.dist, digests.sha256):
                return UploadResult(filename, form.name, str(form.version), created=False)
            raise InvalidUpload(f"Conflicting concurrent upload of {filename!r}; retry.") from e
        return UploadResult(filename, project.name, release.version, created=True)

    def staged_writes(self) -> AbstractContextManager[StagedWrites]:
        """Writes staged in the block (around a transaction, such as ``locked_project``'s)
        are published after it succeeded, discarded if it raises; a full disk becomes
        ``InsufficientStorage``."""
        return self._staged_writes()

    @contextmanager
    def _staged_writes(self) -> Iterator[StagedWrites]:
        """Writes staged in the block (around a transaction) are published if it succeeds
        (the transaction committed), discarded if it raises."""
        writes = StagedWrites(self.storage)
        try:
            yield writes
        except BaseException as e:
            writes.discard()
            # The storage, or the database sharing its disk (SQLite's "disk is full").
            if isinstance(e, Exception) and is_disk_full(e):
                raise InsufficientStorage(FULL_MESSAGE) from e
            raise
        self.checkpoint("committed")
        keys = writes.keys
        try:
            writes.publish()
        except (StorageError, OSError):
            # The commit cannot be undone; what stays staged has its rows, and the sweep
            # publishes it.
            log.exception("publishing %s failed; the sweep will publish it", keys)
        self.checkpoint("visible")

    # -- administration ---------------------------------------------------------------------

    def set_yanked(
        self,
        project: str,
        version: str,
        yanked: bool,
        reason: str | None,
        actor: str = ADMIN,
        via: str = journal.SERVER_VIA,
        check: Check | None = None,
    ) -> None:
        """PEP 592: mark a release (un)yanked. Its files stay targets; its pages change.

        A change of its yank or reason is logged (a Yanked entry, ``actor`` its account) and
        journaled (``actor`` and ``via``) in the same transaction; (un)yanking it again as it
        is logs nothing. ``check`` runs first, under the project's lock.
        """
        now = self.clock()
        reason = reason if yanked else None
        with (
            self._staged_writes() as writes,
            locked_project(self.writes, normalize(project)) as (session, row),
        ):
            if row is None:
                raise NotFound(f"No project {project!r}.")
            if check is not None:
                check(session, row)
            release = self._find_release(session, row, version)
            if (bool(release.yanked), release.yanked_reason) != (yanked, reason):
                action = journal.RELEASE_YANKED if yanked else journal.RELEASE_UNYANKED
                detail = f"{release.version}: {reason}" if reason else release.version
                journal.write(session, now, row.normalized_name, action, actor, via, detail)
                entry = Yanked(
                    project=row.normalized_name,
                    version=release.canonical_version,
                    yanked=yanked,
                    time=now,
                    reason=logged_reason(reason),
                    account=actor,
                )
                record(session, [entry])
            release.yanked = yanked
            release.yanked_reason = reason
            bump_serial(session, row)
            pages.store_pages(session, writes, row, actor, now)

    @staticmethod
    def _find_release(session: Session, project: Project, version: str) -> Release:
        """The release ``version`` names by its canonical version: ``1.0.0`` finds 1.0."""
        try:
            canonical = release_key(Version(version))
        except InvalidVersion as e:
            raise NotFound(f"Invalid version {version!r}.") from e
        release = session.scalar(
            select(Release).where(
                Release.project_id == project.id, Release.canonical_version == canonical
            )
        )
        if release is None:
            raise NotFound(f"No release {version} of {project.name}.")
        return release

    def remove(
        self,
        project: str,
        version: str | None = None,
        filename: str | None = None,
        actor: str = ADMIN,
        via: str = journal.SERVER_VIA,
        check: Check | None = None,
    ) -> list[str]:
        """Remove one file, one release, or a whole project: rows, targets and pages.

        Returns the filenames removed. Their stored files are moved out of view before the
        new pages are staged and deleted after the commit (put back if it fails); on a full
        disk they are deleted before the pages are staged, so that removal frees the space
        it needs. Each file's removal is logged (a FileRemoved entry, ``actor`` its
        account), and the removal journaled (``actor``, ``via``), in the same transaction.
        ``check`` runs first, under the project's lock.
        """
        now = self.clock()
        hidden = StagedWrites(self.storage)  # the removed files, out of view
        try:
            with (
                self._staged_writes() as writes,
                locked_project(self.writes, normalize(project)) as (session, row),
            ):
                if row is None:
                    raise NotFound(f"No project {project!r}.")
                if check is not None:
                    check(session, row)
                files, release_version = self._removed_files(session, row, version, filename)
                for f in files:
                    changes.drop_target(
                        session, f.path, project=row.normalized_name, actor=actor, now=now
                    )
                    session.delete(f)
                record(session, [removed_entry(row.normalized_name, f, now, actor) for f in files])
                removed = [(f.filename, f.path, f.sha256) for f in files]
                action, detail = _removal(
                    row.name, release_version, filename is not None, [f[0] for f in removed]
                )
                journal.write(session, now, row.normalized_name, action, actor, via, detail)
                session.flush()
                self._drop_empty_releases(session, row)
                self._hide(hidden, removed)
                if version is None and filename is None:
                    pages.drop_pages(session, row, actor, now)
                    session.execute(delete(Owner).where(Owner.project_id == row.id))
                    session.execute(
                        delete(UpstreamProject).where(UpstreamProject.project_id == row.id)
                    )
                    session.flush()
                    session.delete(row)
                else:
                    bump_serial(session, row)
                    try:
                        pages.store_pages(session, writes, row, actor, now)
                    except StorageFull:
                        # Free the removed files' space for the pages. Should this
                        # transaction still fail, the rows outlive their files: running
                        # the removal again completes it.
                        log.warning("storage full: deleting the removed files first")
                        writes.discard()
                        hidden.discard()
                        pages.store_pages(session, writes, row, actor, now)
        except BaseException:
            self._put_back(hidden)
            raise
        hidden.discard()
        # An upload of one of these files that committed just before this removal may
        # publish it only now (``_withdraw_if_removed`` covers the other order).
        for _name, key, sha256 in removed:
            for alias in dist_keys(key, sha256):
                self.storage.delete(alias)
        return [name for name, _key, _sha in removed]

    def _removed_files(
        self, session: Session, row: Project, version: str | None, filename: str | None
    ) -> tuple[list[File], str | None]:
        """The files a removal takes (of ``version``, named ``filename``, or all), and the
        release's version as first uploaded (None without ``version``). Raises NotFound."""
        query = select(File).where(File.project_id == row.id)
        release_version = None
        if version is not None:
            release = self._find_release(session, row, version)
            release_version = release.version
            query = query.where(File.release_id == release.id)
        files = list(session.scalars(query))
        if filename is not None:
            files = _named(files, filename)
            if not files:
                raise NotFound(f"No file {filename!r} in {row.name}.")
        return files, release_version

    def _hide(self, hidden: StagedWrites, removed: list[tuple[str, str, str]]) -> None:
        """Move the removed files out of view (as staged entries: a sweep after a crash
        publishes them again while their rows exist); on a full disk, delete them."""
        for _name, key, sha256 in removed:
            for alias in dist_keys(key, sha256):
                try:
                    staged = self.storage.unpublish(alias)
                except StorageFull:
                    self.storage.delete(alias)
                    continue
                if staged is not None:
                    hidden.adopt(staged)

    @staticmethod
    def _put_back(hidden: StagedWrites) -> None:
        """A removal that did not commit: its files become visible again."""
        try:
            hidden.publish()
        except (StorageError, OSError):
            log.exception("could not put back files of a failed removal; the sweep will")

    @staticmethod
    def _drop_empty_releases(session: Session, project: Project) -> None:
        with_files = select(File.release_id).where(File.project_id == project.id)
        session.execute(
            delete(Release).where(Release.project_id == project.id, Release.id.not_in(with_files))
        )

    # -- reads ------------------------------------------------------------------------------

    def page_sha256(self, normalized_name: str, filename: str) -> str | None:
        """The sha256 of a project's current page (a cheap query), or None if no such project."""
        path = layout.page_path(normalized_name, filename)
        with self.sessions() as session:
            return session.scalar(select(Target.sha256).where(Target.path == path))

    def index_serial(self) -> tuple[int, int]:
        """A value that changes whenever the list of projects does."""
        with self.sessions() as session:
            count, top = session.execute(select(func.count(Project.id), func.max(Project.id))).one()
            return int(count), int(top or 0)

    def project_names(self) -> list[tuple[str, str]]:
        """(name, normalized name) of every project, ordered by normalized name."""
        with self.sessions() as session:
            rows = session.execute(
                select(Project.name, Project.normalized_name).order_by(Project.normalized_name)
            )
            return [(r[0], r[1]) for r in rows]

    def project_detail(self, normalized_name: str) -> ProjectDetail:
        """The project with every release and file. Raises NotFound."""
        with self.sessions() as session:
            project = session.scalar(
                select(Project).where(Project.normalized_name == normalized_name)
            )
            if project is None:
                raise NotFound(f"No project {normalized_name!r}.")
            return load_detail(session, project)
