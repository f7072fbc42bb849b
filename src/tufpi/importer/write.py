"""Record one project's files in the index, in one transaction, as uploads would have.

The files are staged first (never served), then the rows, targets and pages commit together
under the project's row lock, and only then are the files made visible: an import stopped
at any instant leaves whole projects or nothing of them, and the sweep
(``tufpi.index.sweep``) publishes or drops what a kill left staged.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tufpi.db.models import File, Release
from tufpi.importer.plan import ProjectPlan, Ready, plan_project, python_version, release_info
from tufpi.importer.report import timed
from tufpi.index import journal, pages
from tufpi.index.records import (
    FileInfo,
    add_file,
    new_project,
    release_for,
    stage_dist,
    used_filenames,
)
from tufpi.index.rules import UsedFilename, normalized_filename
from tufpi.index.service import IndexService, locked_project
from tufpi.storage import StagedWrites
from tufpi.transparency import record

ACTOR = "import"
# Filenames per query (well below every database's limit on bound parameters).
_QUERY_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class Written:
    """What writing one project did."""

    plan: ProjectPlan
    created_project: bool
    releases: int  # releases created


def existing_files(session: Session, filenames: Sequence[str]) -> dict[str, str]:
    """filename -> sha256 of those of ``filenames`` the index already holds."""
    found: dict[str, str] = {}
    for start in range(0, len(filenames), _QUERY_CHUNK):
        part = filenames[start : start + _QUERY_CHUNK]
        rows = session.execute(select(File.filename, File.sha256).where(File.filename.in_(part)))
        for name, sha256 in rows:
            found[name] = sha256
    return found


def used_by(session: Session, ready: Sequence[Ready]) -> list[UsedFilename]:
    """The filenames ever recorded with the normal form of one of ``ready``'s."""
    normal = sorted({normalized_filename(r.inspected.dist) for r in ready})
    found: list[UsedFilename] = []
    for start in range(0, len(normal), _QUERY_CHUNK):
        found += used_filenames(session, normal[start : start + _QUERY_CHUNK])
    return found


class ProjectWriter:
    """Writes projects one at a time; storage writes of a project's files run in threads."""

    def __init__(
        self,
        index: IndexService,
        threads: concurrent.futures.ThreadPoolExecutor,
        checkpoint: Callable[[str], None],
        owner_id: int | None = None,
        owner_name: str | None = None,
    ) -> None:
        """``owner_id``, ``owner_name``: the account that owns the projects the import
        creates (``--owner``); the transparency log and the journal name it as the one who
        added the files. Without it, files are logged with no account and journaled as
        the administrator's."""
        self.sessions = index.sessions
        self.writes = index.writes
        self.storage = index.storage
        self.clock = index.clock
        self.threads = threads
        self.owner_id = owner_id
        self.owner_name = owner_name
        self.checkpoint = checkpoint
        # Seconds spent storing files, in the rows-and-targets transaction, rendering pages
        # and recording the log entries (both within that transaction).
        self.seconds: dict[str, float] = {}

    def used(self, ready: Sequence[Ready]) -> list[UsedFilename]:
        with self.sessions() as session:
            return used_by(session, ready)

    def _store(self, writes: StagedWrites, new: Sequence[Ready]) -> dict[str, str]:
        keys = self.threads.map(lambda r: stage_dist(writes, r.inspected), new)
        return {r.filename: key for r, key in zip(new, keys, strict=True)}

    def write(self, project: str, ready: Sequence[Ready]) -> Written:
        """Record the new files among ``ready`` (all of ``project``); a project whose files
        are all imported already is left untouched.

        Raises:
            StorageFull: no space left (nothing of this project is kept).
        """
        try:
            return self._staged_write(project, ready)
        except IntegrityError:
            # A concurrent upload created the project or a filename first: plan again.
            return self._staged_write(project, ready)

    def _staged_write(self, project: str, ready: Sequence[Ready]) -> Written:
        writes = StagedWrites(self.storage)
        try:
            written = self._write(project, ready, writes)
        except BaseException:
            writes.discard()
            raise
        # Committed: make the files and pages visible (what a kill here leaves staged has
        # its rows, and the sweep publishes it).
        writes.publish()
        self.checkpoint("visible")
        return written

    def _write(self, project: str, ready: Sequence[Ready], writes: StagedWrites) -> Written:
        planned = plan_project(ready, self.used(ready))
        with timed(self.seconds, "store files"):
            keys = self._store(writes, planned.new)
        self.checkpoint("stored")
        with (
            timed(self.seconds, "rows and targets"),
            locked_project(self.writes, project) as (session, existing),
        ):
            plan = plan_project(ready, used_by(session, ready))
            if not plan.new:
                writes.discard()
                return Written(plan, created_project=False, releases=0)
            now = self.clock()
            created = existing is None
            row = existing or new_project(session, plan.project_name, plan.created, self.owner_id)
            releases_before = self._count_releases(session, row.id)
            entries = []
            for r in plan.new:
                key = keys.get(r.filename) or stage_dist(writes, r.inspected)
                release = release_for(session, row, release_info(r), r.inspected)
                info = FileInfo(
                    key,
                    python_version(r.inspected.dist),
                    r.upload_time,
                    None,
                    ACTOR,
                    via="import",
                    account=self.owner_name,
                )
                entries.append(add_file(session, row, release, r.inspected, info, now))
            # The project's log and journal entries, in a statement each, committed with
            # its rows.
            with timed(self.seconds, "log entries"):
                record(session, entries)
                journal.write_all(
                    session,
                    now,
                    row.normalized_name,
                    journal.FILE_ADDED,
                    self.owner_name or journal.SERVER_ACCOUNT,
                    journal.SERVER_VIA,
                    [f"imported {r.filename}" for r in plan.new],
                )
            with timed(self.seconds, "pages"):
                pages.store_pages(session, writes, row, ACTOR, now)
            releases = self._count_releases(session, row.id) - releases_before
        self.checkpoint("project")
        return Written(plan, created, releases)

    @staticmethod
    def _count_releases(session: Session, project_id: int) -> int:
        query = select(func.count(Release.id)).where(Release.project_id == project_id)
        return int(session.scalar(query) or 0)
