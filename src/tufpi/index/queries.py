"""Read a project, its releases and files into plain view values (used by pages and APIs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from tufpi.db.models import File, Project, Release, UpstreamProject
from tufpi.index.views import FileView, ProjectDetail, ProjectPage, ReleaseView


def load_detail(session: Session, project: Project) -> ProjectDetail:
    """Everything shown about ``project``, as seen by ``session`` (its own writes included)."""
    releases = session.scalars(select(Release).where(Release.project_id == project.id)).all()
    files = session.scalars(
        select(File).where(File.project_id == project.id).order_by(File.filename)
    ).all()
    return _detail(project, releases, files)


def load_page(session: Session, project: Project) -> ProjectPage:
    """``project``'s simple page, as seen by ``session`` (its own writes included).

    The same value as ``load_detail(...).page``, read as plain columns: every upload
    re-renders its project's pages, and ORM objects (with each release's core metadata and
    description, which pages do not show) cost several times as much to load.
    """
    versions = session.scalars(_PAGE_VERSIONS, {"project_id": project.id})
    rows = session.execute(_PAGE_FILES, {"project_id": project.id})
    files = tuple(_file_view(row._asdict()) for row in rows)
    tracks, alternates = _upstream_links(session, project)
    return ProjectPage(
        name=project.name,
        normalized_name=project.normalized_name,
        serial=project.serial,
        versions=tuple(sorted(versions, key=version_order)),
        files=files,
        tracks=tracks,
        alternate_locations=alternates,
    )


def _file_view(row: dict[str, Any]) -> FileView:
    """A page's file: yanked by its release's yank, else by its own (a mirrored file's)."""
    own, own_reason = row.pop("file_yanked"), row.pop("file_yanked_reason")
    if not row["yanked"] and own:
        row["yanked"], row["yanked_reason"] = True, own_reason
    return FileView(**row)


def _upstream_links(session: Session, project: Project) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """PEP 708: a mirrored project ``tracks`` upstream's page; one hosted here and mirrored
    too (``upstream_allow``) names upstream's page in ``alternate-locations``."""
    page_url = session.scalar(_UPSTREAM_PAGE, {"project_id": project.id})
    if page_url is None:
        return (), ()
    local = session.scalar(_HAS_LOCAL_FILES, {"project_id": project.id})
    if local:
        return (), (page_url,)
    return (page_url,), ()


# Built once: every upload renders its project's page.
_PAGE_VERSIONS = select(Release.version).where(Release.project_id == bindparam("project_id"))
_PAGE_FILES = (
    select(
        File.filename,
        File.path,
        Release.version,
        File.packagetype,
        File.python_version,
        File.requires_python,
        File.size,
        File.sha256,
        File.blake2_256,
        File.md5,
        File.metadata_sha256,
        File.upload_time,
        Release.yanked,
        Release.yanked_reason,
        File.provenance,
        File.yanked.label("file_yanked"),
        File.yanked_reason.label("file_yanked_reason"),
    )
    .join(Release, File.release_id == Release.id)
    .where(File.project_id == bindparam("project_id"))
    .order_by(File.filename)
)


_UPSTREAM_PAGE = select(UpstreamProject.page_url).where(
    UpstreamProject.project_id == bindparam("project_id")
)
_HAS_LOCAL_FILES = select(
    exists().where(File.project_id == bindparam("project_id"), File.upstream_url.is_(None))
)


def version_order(version: str) -> Any:
    """Sort key of versions: invalid ones first, then by packaging's order."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _detail(project: Project, releases: Sequence[Release], files: Sequence[File]) -> ProjectDetail:
    ordered = sorted(releases, key=lambda r: version_order(r.version))
    views = tuple(
        FileView(
            filename=f.filename,
            path=f.path,
            version=f.release.version,
            packagetype=f.packagetype,
            python_version=f.python_version,
            requires_python=f.requires_python,
            size=f.size,
            sha256=f.sha256,
            blake2_256=f.blake2_256,
            md5=f.md5,
            metadata_sha256=f.metadata_sha256,
            upload_time=f.upload_time,
            yanked=f.release.yanked or f.yanked,
            yanked_reason=f.release.yanked_reason if f.release.yanked else f.yanked_reason,
            provenance=f.provenance,
        )
        for f in files
    )
    page = ProjectPage(
        name=project.name,
        normalized_name=project.normalized_name,
        serial=project.serial,
        versions=tuple(r.version for r in ordered),
        files=views,
    )
    release_views = tuple(
        ReleaseView(
            version=r.version,
            yanked=r.yanked,
            yanked_reason=r.yanked_reason,
            requires_python=r.requires_python,
            core_metadata=r.core_metadata,
            description=r.description,
        )
        for r in ordered
    )
    return ProjectDetail(page, release_views)
