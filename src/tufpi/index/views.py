"""Read-only views of the index that pages and APIs render: plain frozen values, no ORM."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any


@dataclasses.dataclass(frozen=True)
class FileView:
    filename: str
    path: str
    version: str
    packagetype: str
    python_version: str
    requires_python: str | None
    size: int
    sha256: str
    blake2_256: str | None  # None: a mirrored file not held yet
    md5: str | None
    metadata_sha256: str | None
    upload_time: dt.datetime
    yanked: bool
    yanked_reason: str | None
    provenance: str | None = None  # PEP 740: where its provenance is published


@dataclasses.dataclass(frozen=True)
class ReleaseView:
    version: str
    yanked: bool
    yanked_reason: str | None
    requires_python: str | None
    core_metadata: dict[str, Any]
    description: str | None


@dataclasses.dataclass(frozen=True)
class ProjectPage:
    """Everything the simple API shows for one project."""

    name: str
    normalized_name: str
    serial: int
    versions: tuple[str, ...]
    files: tuple[FileView, ...]
    # PEP 708: the upstream page a mirrored project tracks; the other places a project
    # both hosted here and mirrored (``upstream_allow``) is found.
    tracks: tuple[str, ...] = ()
    alternate_locations: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ProjectDetail:
    """Everything the JSON API shows for one project."""

    page: ProjectPage
    releases: tuple[ReleaseView, ...]
