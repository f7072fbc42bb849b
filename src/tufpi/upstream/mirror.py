"""Mirroring on demand: a project not hosted here is read from upstream when asked for,
recorded and signed like an upload, and each of its files fetched once, on its first download.

``Mirror.page`` runs before a project page is served, ``Mirror.file`` before a file under
``/packages/`` that storage does not hold; the decisions are ``tufpi.upstream.policy``'s, the
writes ``tufpi.index.mirrored``'s, in one transaction under the project's lock, so that the
signer publishes a mirrored page and its files' targets together, logged as
``upstream:<url>``. Upstream is read outside any transaction, bounded (``UpstreamBounds``);
a failure becomes ``UpstreamFailed`` (502) or ``UpstreamTimedOut`` (504), naming upstream,
and nothing of it is stored or signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tufpi.clock import Clock
from tufpi.config import Settings
from tufpi.index.errors import IndexProblem, NotFound, Unavailable
from tufpi.index.mirrored import (
    HeldFile,
    MirrorState,
    apply_change,
    hold_file,
    known_files,
    mirror_state,
    mirrored_file,
    note_asked,
    one_download,
    used_elsewhere,
)
from tufpi.index.names import is_valid_project_name, parse_dist_filename
from tufpi.index.records import core_metadata_key, file_key_of
from tufpi.index.rules import normalized_filename
from tufpi.index.service import IndexService, locked_project
from tufpi.storage import StorageError
from tufpi.trust import layout
from tufpi.trust.errors import NotInitialised
from tufpi.upstream.client import Digests, Upstream, UpstreamBounds, Upstreams
from tufpi.upstream.errors import UpstreamError
from tufpi.upstream.model import UpstreamFile, UpstreamProject
from tufpi.upstream.policy import Route, new_files, plan_sync, route_page

log = logging.getLogger("tufpi.upstream")


class UpstreamFailed(IndexProblem):
    """Upstream could not give what was asked and the index holds nothing to serve (502)."""

    status = 502


class UpstreamTimedOut(UpstreamFailed):
    """Upstream did not answer within the bounds (504)."""

    status = 504


def failure(error: UpstreamError, what: str) -> UpstreamFailed:
    """The answer for an upstream failure about ``what`` (``project 'x'``, a filename): 504
    when upstream was too slow, else 502."""
    kind = UpstreamTimedOut if error.timed_out else UpstreamFailed
    return kind(f"This index does not hold {what}, and {error}.")


def bounds_from(settings: Settings) -> UpstreamBounds:
    """Upstream's bounds from settings: a file is at most what an upload may be."""
    return UpstreamBounds(
        connect_seconds=settings.upstream_connect_timeout,
        page_seconds=settings.upstream_page_timeout,
        file_seconds=settings.upstream_file_timeout,
        page_max_bytes=settings.upstream_page_max_bytes,
        file_max_bytes=settings.max_upload_bytes,
    )


class _Flights:
    """One thread at a time per key (a project's page, a file): concurrent requests for
    the same thing wait for the first, which reads upstream once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def one(self, key: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold ``key``'s flight for the block; with ``wait=False``, yields False at once
        (holding nothing) when another thread holds it."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            if not lock.acquire(blocking=wait):
                yield False
                return
            try:
                yield True
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class Mirror:
    """The index's pull-through of its configured upstreams."""

    def __init__(
        self,
        index: IndexService,
        upstreams: Upstreams,
        *,
        refresh: dt.timedelta,
        allow: frozenset[str],
        clock: Clock,
        max_size: int,
        size_seconds: float,
    ) -> None:
        """``max_size``: the largest file listed (the index's upload limit);
        ``size_seconds``: the most time spent asking upstream the sizes of one page's new
        files (HEAD), when its page gives none."""
        self.index = index
        self.upstreams = upstreams
        self.refresh = refresh
        self.allow = allow
        self.clock = clock
        self.max_size = max_size
        self.size_seconds = size_seconds
        self._flights = _Flights()

    @classmethod
    def from_settings(cls, settings: Settings, index: IndexService, clock: Clock) -> Mirror:
        upstreams = Upstreams(settings.upstream, bounds_from(settings))
        return cls(
            index,
            upstreams,
            refresh=dt.timedelta(seconds=settings.upstream_refresh),
            allow=settings.upstream_allow,
            clock=clock,
            max_size=settings.max_upload_bytes,
            size_seconds=settings.upstream_page_timeout,
        )

    def close(self) -> None:
        self.upstreams.close()

    # -- pages ------------------------------------------------------------------------------

    def _state(self, normalized: str) -> MirrorState:
        with self.index.sessions() as session:
            return mirror_state(session, normalized)

    def _route(self, normalized: str) -> Route:
        return route_page(
            self._state(normalized),
            configured=True,
            allowed=normalized in self.allow,
            refresh=self.refresh,
            now=self.clock(),
        )

    def page(self, normalized: str) -> None:
        """Make the stored pages of ``normalized`` current before they are served: mirror a
        project not hosted here, refresh one read more than ``refresh`` ago.

        Raises:
            NotFound: neither this index nor upstream has the project.
            UpstreamFailed: upstream failed, and the index has no page of it to serve.
            Unavailable: the index's metadata is not initialised.
        """
        if not is_valid_project_name(normalized):
            return  # no such name can be upstream's (the stored lookup answers 404)
        route = self._route(normalized)
        if route is Route.STORED:
            return
        # A page to refresh is served as stored while another request reads upstream; one
        # never mirrored waits for that reading.
        with self._flights.one(f"page:{normalized}", wait=route is Route.MIRROR) as flying:
            route = self._route(normalized)  # again: a concurrent request may have read it
            if flying and route is not Route.STORED:
                self._read(normalized, route)

    def _read(self, normalized: str, route: Route) -> None:
        try:
            project = self.upstreams.project(normalized)
        except UpstreamError as e:
            if route is Route.MIRROR:
                raise failure(e, f"project {normalized!r}") from e
            log.warning("%s: serving the stored page: %s", normalized, e)
            self._note_read(normalized)
            return
        if project is None:
            if route is Route.MIRROR:
                raise NotFound(f"No project named {normalized!r} here, nor upstream.")
            log.info("%s: not upstream now; its stored page is served", normalized)
            self._note_read(normalized)
            return
        for filename, hashes in project.conflicts:
            log.warning(
                "upstream %s, project %s: %s: left off, listed with different sha256 values: %s",
                project.upstream,
                normalized,
                filename,
                ", ".join(hashes),
            )
        self._record(normalized, project)

    def _note_read(self, normalized: str) -> None:
        """Upstream was asked now, and gave nothing: ask again only after ``refresh``, so
        that a failing upstream costs one bounded wait per interval, not one per request."""
        with self.index.writes.begin() as session:
            note_asked(session, normalized, self.clock())

    def _sizes(self, normalized: str, project: UpstreamProject) -> dict[str, int | None]:
        """The size of each file the index does not list yet: upstream's (PEP 700), else a
        bounded HEAD's."""
        state = self._state(normalized)
        known = []
        if state.project_id is not None:
            with self.index.sessions() as session:
                known = known_files(session, state.project_id)
        upstream = self.upstreams.of(project)
        sizes: dict[str, int | None] = {}
        # The HEADs of one page take at most what reading the page may take.
        deadline = time.monotonic() + self.size_seconds
        for f in new_files(project, known):
            if f.size is not None:
                sizes[f.filename] = f.size
            elif time.monotonic() >= deadline:
                sizes[f.filename] = None  # asked again at the next refresh
            else:
                sizes[f.filename] = self._head(upstream, f)
        return sizes

    @staticmethod
    def _head(upstream: Upstream, file: UpstreamFile) -> int | None:
        try:
            return upstream.size_of(file)
        except UpstreamError as e:
            log.warning("%s: its size is unknown: %s", file.filename, e)
            return None

    def _record(self, normalized: str, project: UpstreamProject) -> None:
        sizes = self._sizes(normalized, project)
        now = self.clock()
        try:
            with (
                self.index.staged_writes() as writes,
                locked_project(self.index.writes, normalized) as (session, row),
            ):
                state = mirror_state(session, normalized)
                hosted_here = state.project_id is not None and state.upstream is None
                if hosted_here and normalized not in self.allow:
                    return  # uploaded here meanwhile: never upstream's
                known = known_files(session, row.id) if row is not None else []
                normals = [normalized_filename(f.dist) for f in new_files(project, known)]
                used = used_elsewhere(session, normals, normalized)
                plan = plan_sync(project, known, sizes, used, self.max_size)
                apply_change(session, writes, row, plan.change, now)
        except NotInitialised as e:
            raise Unavailable(str(e)) from e
        for line in plan.refused:
            log.warning("upstream %s, project %s: %s", project.upstream, normalized, line)
        added = len(plan.change.add)
        if added or plan.change.yanks or plan.change.withdraw:
            log.info(
                "mirrored %s from %s: %d files added, %d yanks changed, %d withdrawn",
                normalized,
                project.upstream,
                added,
                len(plan.change.yanks),
                len(plan.change.withdraw),
            )

    # -- files ------------------------------------------------------------------------------

    def file(self, key: str) -> None:
        """Make storage hold ``key`` (a mirrored file, its consistent-snapshot alias, or its
        PEP 658 metadata file) before it is served; nothing when it is no mirrored file's.

        Raises:
            UpstreamFailed: upstream failed or sent other bytes than the index signed;
                nothing was stored.
        """
        file_key = file_key_of(key)
        if file_key is None:
            return
        with self.index.sessions() as session:
            row = mirrored_file(session, file_key)
        if row is None:
            return
        if key.endswith(".metadata"):
            self._core_metadata(row)
        elif not row.held:
            with (
                self._flights.one(f"file:{file_key}"),
                one_download(self.index.sessions, file_key),
            ):
                self._fetch(file_key)

    def _upstream(self, row: HeldFile) -> Upstream:
        upstream = None if row.upstream is None else self.upstreams.named(row.upstream)
        if upstream is None:
            raise UpstreamFailed(
                f"{row.filename} is not held here, and its upstream {row.upstream} is no "
                "longer configured."
            )
        return upstream

    def _fetch(self, file_key: str) -> None:
        with self.index.sessions() as session:
            row = mirrored_file(session, file_key)
        if row is None or row.held:
            return  # a concurrent request fetched it
        upstream = self._upstream(row)
        log.info("%s: fetching from upstream %s", row.filename, row.upstream)
        scratch = self.index.storage.scratch_dir() / f"upstream-{uuid.uuid4().hex}"
        try:
            with scratch.open("wb") as out:
                digests = upstream.download(upstream_file(row), out)
            self._hold(row, scratch, digests, self._metadata_with(row, upstream))
        except UpstreamError as e:
            log.warning("%s: %s", row.filename, e)
            raise failure(e, row.filename) from e
        finally:
            scratch.unlink(missing_ok=True)

    def _metadata_with(self, row: HeldFile, upstream: Upstream) -> bytes | None:
        """The file's PEP 658 metadata, to hold with it (so that installs keep working when
        upstream is down); None when upstream offers none or fails to give it now."""
        if row.core_metadata_sha256 is None or self.index.storage.exists(
            core_metadata_key(row.key)
        ):
            return None
        try:
            return upstream.core_metadata(upstream_file(row))
        except UpstreamError as e:
            log.warning("%s.metadata: not held with its file: %s", row.filename, e)
            return None

    def _hold(self, row: HeldFile, scratch: Path, digests: Digests, metadata: bytes | None) -> None:
        try:
            with (
                self.index.staged_writes() as writes,
                locked_project(self.index.writes, row.project) as (session, _project),
            ):
                writes.stage(row.key, scratch)
                writes.stage(layout.consistent_path(row.key, row.sha256), scratch)
                if metadata is not None:
                    writes.stage(core_metadata_key(row.key), metadata)
                if not hold_file(session, row, digests, self.clock()):
                    writes.discard()
        except ValueError as e:
            raise UpstreamFailed(f"upstream {row.upstream} sent other bytes: {e}") from e
        log.info("%s: held, from upstream %s", row.filename, row.upstream)

    def _core_metadata(self, row: HeldFile) -> None:
        """Store a mirrored file's PEP 658 metadata file, fetched from upstream and checked
        against the sha256 the signed page states (not a target: it has no length before
        the index holds it; a verifying client checks it against that page)."""
        if row.core_metadata_sha256 is None:
            return
        key = core_metadata_key(row.key)
        if self.index.storage.exists(key):
            return
        with self._flights.one(f"metadata:{row.key}"):
            if self.index.storage.exists(key):
                return
            try:
                data = self._upstream(row).core_metadata(upstream_file(row))
            except UpstreamError as e:
                raise failure(e, f"{row.filename}.metadata") from e
            try:
                self.index.storage.put_bytes(key, data)
            except StorageError as e:
                raise Unavailable(f"could not store {row.filename}.metadata: {e}") from e


def upstream_file(row: HeldFile) -> UpstreamFile:
    """The ``UpstreamFile`` a file row stands for, for ``Upstream.download``."""
    return UpstreamFile(
        filename=row.filename,
        url=row.url,
        sha256=row.sha256,
        size=row.size,
        requires_python=row.requires_python,
        yanked=row.yanked,
        core_metadata_sha256=row.core_metadata_sha256,
        provenance=row.provenance,
        upload_time=row.upload_time,
        dist=parse_dist_filename(row.filename),
    )
