"""Project pages of the simple API (PEP 503 HTML, PEP 691/700 JSON), rendered when they change.

A page is a signed target (PEP 458), so its bytes are fixed when the project changes and
stored content-addressed; every client, TUF-aware or not, is served those same bytes. Pages
link to files by *relative* URL, so they do not depend on the host serving them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from html import escape
from typing import Any

from sqlalchemy.orm import Session

from tufpi.db.models import Project
from tufpi.index import search
from tufpi.index.queries import load_page
from tufpi.index.views import FileView, ProjectPage
from tufpi.storage import StagedWrites
from tufpi.trust import changes, layout

API_VERSION = "1.1"
# A page carrying PEP 708 (tracks, alternate-locations) or PEP 740 (provenance) says so;
# every other page keeps its bytes.
API_VERSION_UPSTREAM = "1.3"
HTML = "index.html"
JSON = "index.json"
# A project page is served at /simple/<name>/; files live under /packages/.
_PAGE_TO_ROOT = "../../"


def iso(moment: dt.datetime) -> str:
    """PEP 700's upload-time format."""
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _file_anchor(f: FileView) -> str:
    attrs = [f'href="{escape(_PAGE_TO_ROOT + f.path)}#sha256={f.sha256}"']
    if f.requires_python:
        attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
    if f.metadata_sha256:
        value = f"sha256={f.metadata_sha256}"
        attrs.append(f'data-dist-info-metadata="{value}"')
        attrs.append(f'data-core-metadata="{value}"')
    if f.yanked:
        attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
    if f.provenance:
        attrs.append(f'data-provenance="{escape(f.provenance)}"')
    return f"<a {' '.join(attrs)}>{escape(f.filename)}</a><br>"


def api_version(page: ProjectPage) -> str:
    """1.1, or 1.3 for a page with PEP 708 or PEP 740 data."""
    upstream = page.tracks or page.alternate_locations or any(f.provenance for f in page.files)
    return API_VERSION_UPSTREAM if upstream else API_VERSION


def _upstream_meta(page: ProjectPage) -> list[str]:
    """PEP 708's meta elements."""
    return [
        f'<meta name="pypi:{name}" content="{escape(url)}">'
        for name, urls in (
            ("tracks", page.tracks),
            ("alternate-locations", page.alternate_locations),
        )
        for url in urls
    ]


def project_html(page: ProjectPage) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html><head>",
        f'<meta name="pypi:repository-version" content="{api_version(page)}">',
        *_upstream_meta(page),
        f"<title>Links for {escape(page.name)}</title></head><body>",
        f"<h1>Links for {escape(page.name)}</h1>",
    ]
    lines += [_file_anchor(f) for f in page.files]
    lines.append("</body></html>\n")
    return "\n".join(lines).encode()


def _file_json(f: FileView) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": f.filename,
        "url": _PAGE_TO_ROOT + f.path,
        "hashes": {"sha256": f.sha256},
    }
    if f.requires_python:
        entry["requires-python"] = f.requires_python
    metadata: Any = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
    entry["core-metadata"] = metadata
    entry["dist-info-metadata"] = metadata
    entry["yanked"] = (f.yanked_reason or True) if f.yanked else False
    entry["size"] = f.size
    entry["upload-time"] = iso(f.upload_time)
    if f.provenance:
        entry["provenance"] = f.provenance
    return entry


def project_json(page: ProjectPage) -> bytes:
    document: dict[str, Any] = {
        "meta": {"api-version": api_version(page)},
        "name": page.normalized_name,
        "versions": list(page.versions),
        "files": [_file_json(f) for f in page.files],
    }
    if page.tracks:
        document["tracks"] = list(page.tracks)
    if page.alternate_locations:
        document["alternate-locations"] = list(page.alternate_locations)
    return dumps(document)


def render(page: ProjectPage) -> dict[str, bytes]:
    """Both representations of a project page, by target file name."""
    return {HTML: project_html(page), JSON: project_json(page)}


def store_pages(
    session: Session, writes: StagedWrites, project: Project, actor: str, now: dt.datetime
) -> None:
    """Render ``project``'s pages as ``session`` sees it, stage them, and make them targets.

    The caller holds the project's row lock, so concurrent uploads cannot interleave pages,
    and publishes ``writes`` once the transaction has committed.

    Raises:
        StorageFull: no space left.
    """
    bodies = render(load_page(session, project))
    targets = []
    for filename, body in bodies.items():
        path = layout.page_path(project.normalized_name, filename)
        sha256 = hashlib.sha256(body).hexdigest()
        writes.stage(layout.consistent_path(path, sha256), body)
        targets.append(
            changes.TargetFile(path, len(body), sha256, hashlib.sha512(body).hexdigest())
        )
    changes.set_targets(
        session,
        targets,
        project_id=project.id,
        project=project.normalized_name,
        actor=actor,
        now=now,
    )
    # Search shows the project as these pages do, from the same transaction.
    search.index_project(session, project)


def drop_pages(session: Session, project: Project, actor: str, now: dt.datetime) -> None:
    """Withdraw both page targets of a project being removed, and take it out of search."""
    search.forget(session, project.id)
    for filename in (HTML, JSON):
        changes.drop_target(
            session,
            layout.page_path(project.normalized_name, filename),
            project=project.normalized_name,
            actor=actor,
            now=now,
        )
