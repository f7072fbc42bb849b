"""What the pages for people read beyond the simple API's views (``/project/...``, ``/``).

For each file: who uploaded it, its hashed bin, and the snapshot that first published it
(None while pending). For caching: a value that changes whenever any of that does (the
project's serial, bumped by every upload, yank and removal, and the count of its changes
still waiting for the signer). For the home page: how many projects, releases and files.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import (
    File,
    JournalEntry,
    Project,
    Release,
    Target,
    TargetChange,
    User,
)
from tufpi.index.errors import NotFound
from tufpi.index.queries import load_detail
from tufpi.index.views import ProjectDetail
from tufpi.trust import state


@dataclasses.dataclass(frozen=True)
class Signing:
    """One file's account and signature status."""

    uploader: str | None  # None: imported or mirrored, no account
    bin: int | None  # None: not a target (a mirrored file not listed yet)
    published_version: int | None  # the snapshot that first published it; None: pending


@dataclasses.dataclass(frozen=True)
class Showcase:
    """A project as its pages show it."""

    detail: ProjectDetail
    signing: dict[str, Signing]  # by the file's path
    number_of_bins: int  # 0 before ``tufpi trust init``


@dataclasses.dataclass(frozen=True)
class Counts:
    projects: int
    releases: int
    files: int


def _pending(normalized: str) -> object:
    return (
        select(func.count())
        .select_from(TargetChange)
        .where(TargetChange.project == normalized, TargetChange.published_version.is_(None))
        .scalar_subquery()
    )


def version_key(sessions: sessionmaker[Session], normalized: str) -> tuple[int, int] | None:
    """(serial, unpublished changes) of a project, None if there is no such project: one
    query, whose value changes whenever anything its pages show does."""
    with sessions() as session:
        row = session.execute(
            select(Project.serial, _pending(normalized)).where(  # type: ignore[call-overload]
                Project.normalized_name == normalized
            )
        ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def history_key(sessions: sessionmaker[Session], normalized: str) -> tuple[int, int, int] | None:
    """``version_key`` and the newest journal entry of the project (owners change without
    a new serial): the history page's cache key. None if there is no such project."""
    newest = (
        select(func.coalesce(func.max(JournalEntry.id), 0))
        .where(JournalEntry.project == normalized)
        .scalar_subquery()
    )
    with sessions() as session:
        row = session.execute(
            select(Project.serial, _pending(normalized), newest).where(  # type: ignore[call-overload]
                Project.normalized_name == normalized
            )
        ).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def showcase(sessions: sessionmaker[Session], normalized: str) -> Showcase:
    """Everything the project's pages show. Raises NotFound."""
    with sessions() as session:
        project = session.scalar(select(Project).where(Project.normalized_name == normalized))
        if project is None:
            raise NotFound(f"No project {normalized!r}.")
        detail = load_detail(session, project)
        return Showcase(detail, _signing(session, project), state.number_of_bins(session) or 0)


def _signing(session: Session, project: Project) -> dict[str, Signing]:
    uploaders = dict(
        session.execute(
            select(File.path, User.name)
            .join(User, User.id == File.uploader_id)
            .where(File.project_id == project.id)
        ).all()
    )
    bins = dict(
        session.execute(
            select(Target.path, Target.bin).where(Target.project_id == project.id)
        ).all()
    )
    published = dict(
        session.execute(
            select(TargetChange.path, func.min(TargetChange.published_version))
            .where(TargetChange.project == project.normalized_name, TargetChange.action == "add")
            .group_by(TargetChange.path)
        ).all()
    )
    paths = session.scalars(select(File.path).where(File.project_id == project.id))
    return {p: Signing(uploaders.get(p), bins.get(p), published.get(p)) for p in paths}


def newest(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """The newest project, release and file ids: cheap (primary keys), and changed by every
    upload, import or mirrored file (a removal changes the counts, not these)."""
    with sessions() as session:
        row = session.execute(
            select(func.max(Project.id), func.max(Release.id), func.max(File.id))
        ).one()
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def counts(sessions: sessionmaker[Session]) -> Counts:
    """How many projects, releases and files the index holds."""
    with sessions() as session:
        return Counts(
            int(session.scalar(select(func.count()).select_from(Project)) or 0),
            int(session.scalar(select(func.count()).select_from(Release)) or 0),
            int(session.scalar(select(func.count()).select_from(File)) or 0),
        )
