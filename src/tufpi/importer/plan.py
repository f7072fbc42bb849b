"""What to do with one project's files (pure): which are new, already imported, or in
conflict, in which order to record them, and what the upload form would have said."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from tufpi.importer.model import Skipped, SkipReason
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename, parse_version
from tufpi.index.records import ReleaseInfo
from tufpi.index.rules import UsedFilename, check_unused, normalized_filename
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


def plan_project(ready: Sequence[Ready], used: Sequence[UsedFilename]) -> ProjectPlan:
    """Sort ``ready`` against ``used`` (the filenames the index ever recorded with their
    normal forms, ``records.used_filenames``), by the upload rules (``rules.check_unused``).

    A normalised filename names one content forever, as for uploads: the very file again is
    already imported; other content, another spelling of it, or a name whose file was
    removed is a conflict, also between two files of the source.
    """
    known: defaultdict[str, list[UsedFilename]] = defaultdict(list)
    for u in used:
        known[u.normalized].append(u)
    new: list[Ready] = []
    present: list[Ready] = []
    conflicts: list[Skipped] = []
    for r in sorted(ready, key=lambda r: (r.upload_time, r.filename, r.location)):
        normal = normalized_filename(r.inspected.dist)
        try:
            identical = check_unused(r.inspected.dist, r.sha256, known[normal])
        except InvalidUpload as e:
            conflicts.append(Skipped(r.location, SkipReason.CONFLICT, e.message))
            continue
        if identical:
            present.append(r)
        else:
            known[normal].append(UsedFilename(r.filename, normal, r.sha256))
            new.append(r)
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
