"""targets: one covering index in bin order for the signer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:10:00

The signer rebuilds each bin-n from its rows in ``targets``. With an index on ``bin`` alone,
a run of bins is a range of that index plus one random read of the table per row; with every
listed column in the index, it is one sequential range (SQLite and PostgreSQL's index-only
scans), which makes back-signing millions of targets several times cheaper to read. The
index on ``bin`` alone is then redundant (the new one starts with ``bin``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_targets_signing", ["bin", "path", "length", "sha256", "sha512"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_targets_bin"))


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targets_bin"), ["bin"], unique=False)
        batch_op.drop_index("ix_targets_signing")
