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
    blake2_256: str
    md5: str
    metadata_sha256: str | None
    upload_time: dt.datetime
    yanked: bool
    yanked_reason: str | None


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


@dataclasses.dataclass(frozen=True)
class ProjectDetail:
    """Everything the JSON API shows for one project."""

    page: ProjectPage
    releases: tuple[ReleaseView, ...]
