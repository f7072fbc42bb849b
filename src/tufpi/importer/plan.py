"""What to do with one project's files (pure): which are new, already imported, or in
conflict, in which order to record them, and what the upload form would have said."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from tufpi.importer.model import Skipped, SkipReason
from tufpi.index.names import DistFilename, parse_version
from tufpi.index.records import ReleaseInfo
from tufpi.index.upload import InspectedDist


@dataclasses.dataclass(frozen=True)
class Ready:
    """A file read and checked, with the time it counts as uploaded."""

    location: str
    inspected: InspectedDist
    upload_time: dt.datetime

    @property
    def filename(self) -> str:
        return self.inspected.dist.filename

    @property
    def sha256(self) -> str:
        return self.inspected.staged.digests.sha256


@dataclasses.dataclass(frozen=True)
class ProjectPlan:
    """``new`` in the order to record them: by upload time, then filename."""

    new: tuple[Ready, ...]
    present: tuple[Ready, ...]
    conflicts: tuple[Skipped, ...]

    @property
    def project_name(self) -> str:
        """The name a new project gets: its first file's core metadata ``Name``, as the
        upload form (which twine fills from it) would have said."""
        return str(self.new[0].inspected.fields["name"])

    @property
    def created(self) -> dt.datetime:
        return self.new[0].upload_time


def _conflict(ready: Ready, existing: str) -> Skipped:
    return Skipped(
        ready.location,
        SkipReason.CONFLICT,
        f"{ready.filename} is already in the index with other content "
        f"(sha256 {existing[:12]}..., this one {ready.sha256[:12]}...)",
    )


def plan_project(ready: Sequence[Ready], existing: Mapping[str, str]) -> ProjectPlan:
    """Sort ``ready`` against ``existing`` (filename -> sha256 already in the index).

    A filename names one content forever (as for uploads): the same content again is
    already imported, other content is a conflict, also between two files of the source.
    """
    seen = dict(existing)
    new: list[Ready] = []
    present: list[Ready] = []
    conflicts: list[Skipped] = []
    for r in sorted(ready, key=lambda r: (r.upload_time, r.filename, r.location)):
        known = seen.get(r.filename)
        if known is None:
            seen[r.filename] = r.sha256
            new.append(r)
        elif known == r.sha256:
            present.append(r)
        else:
            conflicts.append(_conflict(r, known))
    return ProjectPlan(tuple(new), tuple(present), tuple(conflicts))


def release_info(ready: Ready) -> ReleaseInfo:
    """The release a file belongs to, as its upload would have created it."""
    fields = ready.inspected.fields
    version = str(parse_version(str(fields["version"])))
    description = fields.get("description")
    return ReleaseInfo(version, ready.upload_time, str(description) if description else None)


def python_version(dist: DistFilename) -> str:
    """The upload form's ``pyversion``: a wheel's Python tag, ``source`` for an sdist."""
    if dist.packagetype != "bdist_wheel":
        return "source"
    return dist.filename.removesuffix(".whl").split("-")[-3]
