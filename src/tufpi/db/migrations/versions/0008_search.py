"""search of projects (their latest release and summary, an inverted index of words), and
an index of each project's pending target changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 18:00:00

Issue 16's search page (``tufpi.index.search``):

- ``project_search``: each project's latest release (as PyPI picks it) and its summary;
- ``search_terms``: one row per word of a project's name or summary, a B-tree the query's
  terms read as prefix ranges (compared by code point: collation "C" on PostgreSQL);
- ``target_changes``: an index of each project's pending changes, which the cache key of
  the project's pages counts on every request.

Existing projects are indexed here, with the same words the index computes on upload.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tufpi.index.latest import latest_version
from tufpi.index.search_words import project_terms

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TERM = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
_projects = sa.table("projects", sa.column("id", sa.Integer), sa.column("name", sa.String))
_releases = sa.table(
    "releases",
    sa.column("project_id", sa.Integer),
    sa.column("version", sa.String),
    sa.column("yanked", sa.Boolean),
    sa.column("core_metadata", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "project_search",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_search_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_search")),
    )
    op.create_table(
        "search_terms",
        sa.Column("term", _TERM, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("in_name", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_search_terms_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("term", "project_id", name=op.f("pk_search_terms")),
    )
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_search_terms_in_name", ["in_name", "term", "project_id"])
        batch_op.create_index("ix_search_terms_project", ["project_id", "term"])
    with op.batch_alter_table("target_changes", schema=None) as batch_op:
        batch_op.create_index("ix_target_changes_project_pending", ["project", "published_version"])
    _index_existing()


def _index_existing() -> None:
    """Index every project as ``tufpi.index.search.index_project`` would."""
    bind = op.get_bind()
    names = dict(bind.execute(sa.select(_projects.c.id, _projects.c.name)).all())
    releases: dict[int, list[tuple[str, bool, object]]] = {}
    query = sa.select(
        _releases.c.project_id, _releases.c.version, _releases.c.yanked, _releases.c.core_metadata
    )
    for project_id, version, yanked, metadata in bind.execute(query):
        releases.setdefault(project_id, []).append((version, bool(yanked), metadata))
    rows, terms = [], []
    for project_id, name in names.items():
        own = releases.get(project_id, [])
        version = latest_version((v, y) for v, y, _m in own)
        metadata = next((m for v, _y, m in own if v == version), None)
        summary = metadata.get("summary") if isinstance(metadata, dict) else None
        summary = summary if isinstance(summary, str) else None
        rows.append({"project_id": project_id, "version": version, "summary": summary})
        terms += [
            {"term": t, "project_id": project_id, "in_name": n}
            for t, n in project_terms(name, summary).items()
        ]
    if rows:
        op.bulk_insert(_table("project_search"), rows)
    if terms:
        op.bulk_insert(_table("search_terms"), terms)


def _table(name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("target_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_target_changes_project_pending")
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_search_terms_project")
        batch_op.drop_index("ix_search_terms_in_name")
    op.drop_table("search_terms")
    op.drop_table("project_search")
