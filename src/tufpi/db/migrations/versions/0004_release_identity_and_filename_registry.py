"""releases by canonical version; a registry of every filename ever used

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:20:00

A release is now its canonical version (``canonicalize_version``: 1.0, 1.0.0 and 1.00 are
one release, as pip treats them), and a normalised filename, once used, is never accepted
again (``tufpi.index.rules``). This migration:

- creates ``filename_registry`` and fills it from every file row and from the transaction
  log (``target_changes`` paths under ``packages/`` end with the filename of a file, removed
  ones included), so that no filename used before can come back;
- recomputes ``releases.canonical_version``, merging the releases of one project that are
  now one (the first created is kept, with its version string; the others' files move to
  it; it is yanked if any of them was, so a yank of 1.0 keeps covering its twins);
- reports, without changing them, what the new rules would refuse today: duplicated
  sdists or wheels of one release, and local versions.

Nothing published changes: no file, target or stored page is removed or altered (pages are
re-rendered at the project's next change). The report goes to the ``report`` callable the
caller passes (``tufpi db upgrade`` prints it to stderr), else to the ``tufpi.db.migrations``
logger.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from packaging.version import InvalidVersion, Version

# The rules themselves, not a copy: the registry must hold exactly the forms uploads compare.
from tufpi.index.errors import InvalidUpload
from tufpi.index.rules import normalize_filename, release_key

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_log = logging.getLogger("tufpi.db.migrations")

_releases = sa.table(
    "releases",
    sa.column("id", sa.Integer),
    sa.column("project_id", sa.Integer),
    sa.column("version", sa.String),
    sa.column("canonical_version", sa.String),
    sa.column("yanked", sa.Boolean),
    sa.column("yanked_reason", sa.Text),
)
_files = sa.table(
    "files",
    sa.column("id", sa.Integer),
    sa.column("release_id", sa.Integer),
    sa.column("project_id", sa.Integer),
    sa.column("filename", sa.String),
    sa.column("packagetype", sa.String),
    sa.column("upload_time", sa.DateTime(timezone=True)),
)
_projects = sa.table(
    "projects", sa.column("id", sa.Integer), sa.column("normalized_name", sa.String)
)
_changes = sa.table(
    "target_changes",
    sa.column("id", sa.Integer),
    sa.column("path", sa.String),
    sa.column("project", sa.String),
    sa.column("created", sa.DateTime(timezone=True)),
)


def _reporter() -> Callable[[str], None]:
    """The caller's ``report`` callable, else the ``tufpi.db.migrations`` logger."""
    given: Callable[[str], None] | None = context.config.attributes.get("report")
    if given is not None:
        return given
    return lambda line: _log.warning("%s", line)


def _normal(filename: str) -> str:
    try:
        return normalize_filename(filename)
    except InvalidUpload:
        return filename  # accepted under older rules: blocks at least its exact name


def _key(version: str) -> str:
    try:
        return release_key(Version(version))
    except InvalidVersion:
        return version


def _is_local(version: str) -> bool:
    try:
        return Version(version).local is not None
    except InvalidVersion:
        return False


def _create_registry() -> None:
    op.create_table(
        "filename_registry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("normalized", sa.String(length=300), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filename_registry")),
        sa.UniqueConstraint("filename", name=op.f("uq_filename_registry_filename")),
    )
    with op.batch_alter_table("filename_registry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_filename_registry_normalized"), ["normalized"], unique=False
        )


def _fill_registry(bind: sa.Connection) -> int:
    """Every filename of a file row, then of the transaction log; returns how many."""
    seen: dict[str, tuple[str, object]] = {}
    present = bind.execute(
        sa.select(_files.c.filename, _projects.c.normalized_name, _files.c.upload_time)
        .join(_projects, _projects.c.id == _files.c.project_id)
        .order_by(_files.c.id)
    )
    for filename, project, created in present:
        seen.setdefault(filename, (project, created))
    logged = bind.execute(
        sa.select(_changes.c.path, _changes.c.project, _changes.c.created)
        .where(_changes.c.path.like("packages/%"))
        .order_by(_changes.c.id)
    )
    for path, project, created in logged:
        seen.setdefault(path.rsplit("/", 1)[-1], (project or "", created))
    registry = sa.table(
        "filename_registry",
        sa.column("filename", sa.String),
        sa.column("normalized", sa.String),
        sa.column("project", sa.String),
        sa.column("created", sa.DateTime(timezone=True)),
    )
    rows = [
        {"filename": f, "normalized": _normal(f), "project": p, "created": c}
        for f, (p, c) in seen.items()
    ]
    for start in range(0, len(rows), 1000):
        bind.execute(sa.insert(registry), rows[start : start + 1000])
    return len(rows)


def _merge(bind: sa.Connection, twins: list[Any], report: Callable[[str], None]) -> None:
    keeper, others = twins[0], twins[1:]
    other_ids = [r.id for r in others]
    bind.execute(
        sa.update(_files).where(_files.c.release_id.in_(other_ids)).values(release_id=keeper.id)
    )
    yanked = [r for r in twins if r.yanked]
    reasons = "; ".join(dict.fromkeys(r.yanked_reason for r in yanked if r.yanked_reason))
    bind.execute(sa.delete(_releases).where(_releases.c.id.in_(other_ids)))
    bind.execute(
        sa.update(_releases)
        .where(_releases.c.id == keeper.id)
        .values(yanked=bool(yanked), yanked_reason=(reasons or None) if yanked else None)
    )
    spelled = ", ".join(r.version for r in twins)
    line = f"merged releases {spelled} (one canonical version) into {keeper.version}"
    if yanked and len(yanked) < len(twins):
        was = ", ".join(r.version for r in yanked)
        line += f"; yanked, as {was} was (`tufpi yank --undo` reverses it)"
    report(f"project {keeper.project}: {line}")


def _recompute_releases(bind: sa.Connection, report: Callable[[str], None]) -> None:
    rows = bind.execute(
        sa.select(*_releases.c, _projects.c.normalized_name.label("project"))
        .join(_projects, _projects.c.id == _releases.c.project_id)
        .order_by(_releases.c.id)
    ).all()
    groups: defaultdict[tuple[int, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r.project_id, _key(r.version))].append(r)
    # Twins go first: then no new key can meet an old one (a key is its own canonical form).
    for twins in groups.values():
        if len(twins) > 1:
            _merge(bind, twins, report)
    for (_project_id, key), twins in groups.items():
        if twins[0].canonical_version != key:
            bind.execute(
                sa.update(_releases)
                .where(_releases.c.id == twins[0].id)
                .values(canonical_version=key)
            )
        if _is_local(twins[0].version):
            report(
                f"project {twins[0].project}: release {twins[0].version} has a local version; "
                "kept, but new uploads of local versions are refused"
            )


def _report_duplicates(bind: sa.Connection, report: Callable[[str], None]) -> None:
    rows = bind.execute(
        sa.select(_files.c.filename, _projects.c.normalized_name)
        .join(_projects, _projects.c.id == _files.c.project_id)
        .order_by(_files.c.id)
    )
    by_normal: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for filename, project in rows:
        by_normal[_normal(filename)].append((filename, project))
    for normal, found in by_normal.items():
        if len(found) > 1:
            what = "sdists of one release" if normal.endswith(".tar.gz") else "one wheel"
            names = ", ".join(f for f, _p in found)
            report(
                f"project {found[0][1]}: {len(found)} files are {what} ({names}); all kept "
                "and served; `tufpi remove --file` may remove the extra ones"
            )


def upgrade() -> None:
    bind = op.get_bind()
    report = _reporter()
    _create_registry()
    registered = _fill_registry(bind)
    _recompute_releases(bind, report)
    _report_duplicates(bind, report)
    _log.info("filename registry: %d filenames recorded", registered)


def downgrade() -> None:
    # Merged releases stay merged (their version strings are kept); old keys come back.
    for row in op.get_bind().execute(sa.select(_releases.c.id, _releases.c.version)).all():
        try:
            old = str(Version(row.version))
        except InvalidVersion:
            continue
        op.get_bind().execute(
            sa.update(_releases).where(_releases.c.id == row.id).values(canonical_version=old)
        )
    with op.batch_alter_table("filename_registry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_filename_registry_normalized"))
    op.drop_table("filename_registry")
