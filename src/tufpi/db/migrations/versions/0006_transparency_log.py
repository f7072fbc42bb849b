"""the transparency log: entries pending and leaves sequenced

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:00:00

Issue 15's log of everything the index publishes (``tufpi.transparency``):

- ``log_pending``: an entry written in the transaction of the event it records, waiting
  for the sequencer, which takes them in ``id`` order;
- ``log_leaves``: the log itself, one row per leaf (``seq`` is the leaf index), with the
  TUF target path of an entry that names one (a file added), indexed for the lookups.

An existing index starts with an empty log.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_pending",
        sa.Column("id", _ID, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_pending")),
    )
    op.create_table(
        "log_leaves",
        sa.Column("seq", _ID, autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_log_leaves")),
    )
    with op.batch_alter_table("log_leaves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_leaves_path"), ["path"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_leaves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_leaves_path"))
    op.drop_table("log_leaves")
    op.drop_table("log_pending")
