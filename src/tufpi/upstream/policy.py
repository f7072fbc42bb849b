"""What mirroring decides, with no I/O: whether a request asks upstream, and what one
reading of upstream changes in the index.

The rules (docs/upstream.md):

- A name hosted here never falls through to upstream (dependency confusion: PEP 708's
  motivation), unless ``upstream_allow`` names it; then upstream's files are added beside
  the local ones.
- A mirrored page is served as stored for ``upstream_refresh`` seconds, then upstream is
  read again. When upstream fails then, what is stored keeps being served; a name never
  mirrored gets upstream's error.
- A filename, once listed, keeps the length and sha256 the index signed: upstream changing
  them is refused and logged, never served. A yank is carried over; a file upstream no longer
  lists stays if the index holds it, and is withdrawn if it never did (nothing could serve it).
- A file upstream gives no size for, whose size a HEAD does not tell either, is left off the
  page (a TUF target needs a length); so is a file whose filename the index used before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping, Sequence

from tufpi.index.mirrored import FileYank, KnownFile, ListedFile, MirrorChange, MirrorState
from tufpi.index.rules import normalized_filename
from tufpi.upstream.model import UpstreamFile, UpstreamProject


class Route(enum.Enum):
    """What a request for a project page does."""

    STORED = "stored"  # serve what is stored (or 404): no upstream asked
    MIRROR = "mirror"  # read upstream; on failure, answer with its error
    REFRESH = "refresh"  # read upstream; on failure, serve what is stored


def route_page(
    state: MirrorState,
    *,
    configured: bool,
    allowed: bool,
    refresh: dt.timedelta,
    now: dt.datetime,
) -> Route:
    """Whether a request for ``state``'s page reads upstream first.

    Args:
        state: what the index knows of the name (``index.mirrored.mirror_state``).
        configured: whether any upstream is configured (none: today's behaviour exactly).
        allowed: whether ``upstream_allow`` names it.
        refresh: how long a reading of upstream is served before the next one.
        now: the time of the request.
    """
    if not configured:
        return Route.STORED
    if state.project_id is None:
        return Route.MIRROR
    if state.upstream is None:
        # Hosted here only: never upstream's, unless allowed (then read beside it).
        return Route.REFRESH if allowed else Route.STORED
    if state.local_files and not allowed:
        # Taken off the allow-list: the local files stay, upstream is asked no more.
        return Route.STORED
    if state.refreshed is not None and now - _aware(state.refreshed) < refresh:
        return Route.STORED
    return Route.REFRESH


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Plan:
    """One reading of upstream: the change to record, and what was refused (to log)."""

    change: MirrorChange
    refused: tuple[str, ...]


def listed(file: UpstreamFile, size: int) -> ListedFile:
    """An upstream file as the index lists it, with the size it will be signed with."""
    yanked = file.yanked is not False
    reason = file.yanked if isinstance(file.yanked, str) and file.yanked else None
    return ListedFile(
        dist=file.dist,
        url=file.url,
        sha256=file.sha256,
        size=size,
        requires_python=file.requires_python,
        yanked=yanked,
        yanked_reason=reason,
        core_metadata_sha256=file.core_metadata_sha256,
        provenance=file.provenance,
        upload_time=file.upload_time,
    )


def new_files(project: UpstreamProject, known: Sequence[KnownFile]) -> list[UpstreamFile]:
    """Upstream's files whose filename the project does not have (by normal form)."""
    have = {k.normalized for k in known} | {k.filename for k in known}
    return [
        f
        for f in project.files
        if f.filename not in have and normalized_filename(f.dist) not in have
    ]


def plan_sync(
    project: UpstreamProject,
    known: Sequence[KnownFile],
    sizes: Mapping[str, int | None],
    used_elsewhere: frozenset[str] | set[str],
    max_size: int,
) -> Plan:
    """Compare upstream's listing with the project's rows.

    Args:
        project: upstream's page of the project.
        known: the project's file rows (none for a new project).
        sizes: for each new file (by filename), its size: upstream's, or a HEAD's; None
            when neither tells.
        used_elsewhere: normalised filenames the index used before for another file.
        max_size: the largest file the index lists (its upload limit).
    """
    refused: list[str] = []
    add: list[ListedFile] = []
    seen_normal: set[str] = set()
    for f in new_files(project, known):
        normal = normalized_filename(f.dist)
        size = sizes.get(f.filename)
        if normal in used_elsewhere or normal in seen_normal:
            refused.append(f"{f.filename}: left off, its filename was used before")
        elif size is None:
            refused.append(f"{f.filename}: left off, upstream states no size for it")
        elif size > max_size:
            refused.append(f"{f.filename}: left off, {size} bytes is more than this index takes")
        else:
            seen_normal.add(normal)
            add.append(listed(f, size))
    by_name = {f.filename: f for f in project.files}
    yanks: list[FileYank] = []
    withdraw: list[str] = []
    for k in known:
        if not k.mirrored:
            continue
        upstream_file = by_name.get(k.filename)
        if upstream_file is None:
            if not k.held:
                withdraw.append(k.filename)
            continue
        if upstream_file.sha256 != k.sha256 or (
            upstream_file.size is not None and upstream_file.size != k.size
        ):
            refused.append(_changed(k, upstream_file))
            continue
        now = listed(upstream_file, k.size)
        if (now.yanked, now.yanked_reason) != (k.yanked, k.yanked_reason if k.yanked else None):
            yanks.append(FileYank(k.filename, now.yanked, now.yanked_reason))
    change = MirrorChange(
        name=project.name,
        upstream=project.upstream,
        page_url=project.page_url,
        add=tuple(add),
        yanks=tuple(yanks),
        withdraw=tuple(withdraw),
    )
    return Plan(change, tuple(refused))


def _changed(known: KnownFile, now: UpstreamFile) -> str:
    state = "held and served" if known.held else "signed"
    return (
        f"{known.filename}: refused upstream's change (sha256 {now.sha256}, size {now.size}); "
        f"the index {state} it with sha256 {known.sha256}, size {known.size}, and keeps that"
    )
