"""projects mirrored from upstream; files not held yet; sha256-only targets

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:10:00

A project not hosted here may be mirrored from an upstream index (``tufpi.upstream``):

- ``upstream_projects`` says which projects are, from which upstream, where upstream's page
  of it is and when it was last read;
- ``files`` gains ``upstream_url`` (where a mirrored file is fetched from), ``held``
  (whether storage holds its bytes: a mirrored file is listed, and signed, before its
  first download), a file's own yank (``yanked``, ``yanked_reason``: upstream yanks files,
  not releases) and ``provenance`` (PEP 740); its sha512, blake2b and md5 are unknown until
  the file is held, so they may be empty;
- ``targets.sha512`` may be empty: a mirrored file is signed with the length and sha256
  upstream states, and its sha512 is added once the index holds it.

Every existing file is an upload the index holds: ``held`` is true, the rest empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIGESTS = (("sha512", 128), ("blake2_256", 64), ("md5", 32))


def upgrade() -> None:
    op.create_table(
        "upstream_projects",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("upstream", sa.Text(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("refreshed", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_upstream_projects_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_upstream_projects")),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_url", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("yanked", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("yanked_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("provenance", sa.Text(), nullable=True))
        for name, length in _DIGESTS:
            batch_op.alter_column(name, existing_type=sa.String(length=length), nullable=True)
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.alter_column("sha512", existing_type=sa.String(length=128), nullable=True)


def downgrade() -> None:
    # A target or file without sha512 cannot go back: the older schema requires one.
    bind = op.get_bind()
    unheld = bind.execute(sa.text("SELECT count(*) FROM files WHERE held = false")).scalar()
    if unheld:
        raise RuntimeError(
            f"{unheld} mirrored files are not held; remove their projects before downgrading"
        )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.alter_column("sha512", existing_type=sa.String(length=128), nullable=False)
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, length in _DIGESTS:
            batch_op.alter_column(name, existing_type=sa.String(length=length), nullable=False)
        for name in ("provenance", "yanked_reason", "yanked", "held", "upstream_url"):
            batch_op.drop_column(name)
    op.drop_table("upstream_projects")
