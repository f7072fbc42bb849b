"""``/trust/``: the signed repository as people read it: each role's version, expiry, keys
and threshold, the transparency log's size, and the transaction log (of one project with
``?project=``).

The roles' figures come from the status ``/metrics`` gathers (``StatusCache``, gathered
again only after a publication); their keys from the current root, targets and bins,
read again only when ``timestamp.json`` changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from tuf.api.metadata import Root, Targets

from tufpi.index.names import normalize
from tufpi.storage import Storage
from tufpi.tlog.checkpoints import parse_checkpoint
from tufpi.tlog.notes import NoteError
from tufpi.transparency import layout as log_layout
from tufpi.trust import log as trust_log
from tufpi.trust.offline import current
from tufpi.trust.status import RepositoryStatus, publication_key
from tufpi.trust.store import MetadataStore
from tufpi.web.context import context
from tufpi.web.metrics import StatusCache
from tufpi.web.templating import page

CHANGES = 50
PUBLICATIONS = 10  # the last publications shown


@dataclasses.dataclass(frozen=True)
class RoleRow:
    name: str
    version: int
    expires: dt.datetime
    keyids: tuple[str, ...]
    threshold: int


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    size: int


def role_keys(
    root: Root, targets: Targets, bins: Targets
) -> dict[str, tuple[tuple[str, ...], int]]:
    """Each role's key ids and threshold, as the metadata delegating it says (pure)."""
    found = {name: (tuple(role.keyids), role.threshold) for name, role in root.roles.items()}
    for delegations, in_name in ((targets.delegations, "bins"), (bins.delegations, "bin-n")):
        if delegations is None:
            continue
        if delegations.roles:
            for name, role in delegations.roles.items():
                found[name] = (tuple(role.keyids), role.threshold)
        if delegations.succinct_roles is not None:
            succinct = delegations.succinct_roles
            found[in_name] = (tuple(succinct.keyids), succinct.threshold)
    return found


def rows(status: RepositoryStatus, keys: dict[str, tuple[tuple[str, ...], int]]) -> list[RoleRow]:
    """The status's roles with their keys (pure)."""
    return [
        RoleRow(line.name, line.version, line.expires, *keys.get(line.name, ((), 0)))
        for line in status.roles
    ]


class KeyCache:
    """The roles' keys, read again only when the published metadata changed."""

    def __init__(self) -> None:
        self._cached: tuple[bytes, dict[str, tuple[tuple[str, ...], int]]] | None = None
        self._lock = threading.Lock()

    def get(self, storage: Storage) -> dict[str, tuple[tuple[str, ...], int]]:
        key = publication_key(storage)
        with self._lock:
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
        keys = role_keys(*current(MetadataStore(storage)))
        with self._lock:
            self._cached = (key, keys)
        return keys


def read_checkpoint(storage: Storage) -> Checkpoint | None:
    """The transparency log's size from its checkpoint, None when none is published."""
    try:
        with storage.open(log_layout.CHECKPOINT_KEY) as f:
            text = f.read(64 * 1024).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    body, _, _signatures = text.partition("\n\n")
    try:
        return Checkpoint(parse_checkpoint(body + "\n").size)
    except NoteError:
        return None


async def trust_page(request: Request) -> Response:
    """Every role's version, expiry, keys and threshold; the log's size; the last
    publications and the last changes."""
    ctx = context(request)
    await run_in_threadpool(ctx.check_read, request)
    raw = request.query_params.get("project", "").strip()[:200]
    project = normalize(raw) if raw else ""
    metrics: StatusCache = request.app.state.metrics
    keys: KeyCache = request.app.state.trust_keys
    storage = ctx.index.storage
    status: RepositoryStatus | None = None
    role_rows: list[RoleRow] = []
    try:
        status = await metrics.status(ctx.index)
        role_rows = rows(status, await run_in_threadpool(keys.get, storage))
    except FileNotFoundError:
        status = None  # not initialised yet
    changes = await run_in_threadpool(
        trust_log.recent_changes, ctx.index.sessions, CHANGES, project or None
    )
    checkpoint = await run_in_threadpool(read_checkpoint, storage)
    publications = await run_in_threadpool(
        trust_log.recent_publications, ctx.index.sessions, PUBLICATIONS
    )
    return page(
        "trust.html",
        headers={"cache-control": "no-cache"},
        query="",
        project=project,
        repo=status,
        roles=role_rows,
        changes=changes,
        checkpoint=checkpoint,
        publications=publications,
    )
