"""The index's tables, as SQLAlchemy 2 typed models.

Schema changes go through Alembic (``tufpi/db/migrations``); ``tests/db`` checks the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy's declared class attribute
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


def table_of(model: type[Base]) -> Table:
    """A model's Table, for Core statements where ORM objects would cost too much."""
    return Base.metadata.tables[model.__tablename__]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created: Mapped[dt.datetime]
    # Sign-in on the web (issue 16): an argon2id hash in PHC form; None, no web sign-in.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The TOTP second factor (RFC 6238): its base32 secret, None when not enabled, and the
    # last time step a code was accepted for (a code is accepted once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Failed sign-ins in a row, and until when sign-in is refused after too many.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None]


class Token(Base):
    """An API token; only the SHA-256 of its secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Normalised project name the token is limited to; None means all of the user's projects.
    project: Mapped[str | None] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[dt.datetime]
    revoked: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class WebSession(Base):
    """A browser's sign-in: only the SHA-256 of the cookie's secret is kept."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The session's CSRF token, sent back in every form it posts.
    csrf: Mapped[str] = mapped_column(String(64))
    # False between a right password and the TOTP code the account also needs.
    complete: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created: Mapped[dt.datetime]
    expires: Mapped[dt.datetime] = mapped_column(index=True)


class JournalEntry(Base):
    """What a person did to the index, and how: every upload, yank, removal, change of
    owners and of tokens (PyPI's journal). The signed side of a change is in
    ``target_changes`` and the transparency log; this is its who, what and how."""

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(index=True)
    # Normalised project name; kept after the project is gone. None: about an account only.
    project: Mapped[str | None] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(100))
    # How: "web", "api token 12", "upload token 12", "server" (an administrator's command).
    via: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text, default="")


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[dt.datetime]
    # Bumped on every change that alters the project's pages; caches key on it.
    serial: Mapped[int] = mapped_column(Integer, default=1)


class Owner(Base):
    __tablename__ = "owners"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "canonical_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    # As first uploaded (normalised by packaging): "1.0"; later files may spell it "1.0.0".
    version: Mapped[str] = mapped_column(String(100))
    # The release's identity: canonicalize_version, trailing zeros stripped ("1"); see
    # tufpi.index.rules.release_key.
    canonical_version: Mapped[str] = mapped_column(String(100))
    created: Mapped[dt.datetime]
    requires_python: Mapped[str | None] = mapped_column(String(200))
    # Core metadata fields of the first file uploaded (packaging's raw form), for the JSON API.
    core_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str | None] = mapped_column(Text)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(Text)


class File(Base):
    __tablename__ = "files"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300), unique=True)
    # Storage key, relative to the storage root and to the index's URL root.
    path: Mapped[str] = mapped_column(String(400), unique=True)
    packagetype: Mapped[str] = mapped_column(String(20))
    python_version: Mapped[str] = mapped_column(String(50))
    requires_python: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Known once the index holds the bytes (a mirrored file not yet held has none).
    sha512: Mapped[str | None] = mapped_column(String(128))
    blake2_256: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    metadata_sha256: Mapped[str | None] = mapped_column(String(64))
    metadata_size: Mapped[int | None] = mapped_column(Integer)
    upload_time: Mapped[dt.datetime]
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A mirrored file (tufpi.upstream): the URL upstream serves it at; None for an upload.
    upstream_url: Mapped[str | None] = mapped_column(Text)
    # Whether storage holds the bytes at ``path``: False for a mirrored file until its first
    # download, after which it is never fetched again.
    held: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A yank of this file alone (PEP 592 yanks files; a mirrored page carries upstream's).
    # A release's yank covers all its files.
    yanked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    yanked_reason: Mapped[str | None] = mapped_column(Text)
    # PEP 740: where the file's provenance is published (upstream's URL, for a mirrored file).
    provenance: Mapped[str | None] = mapped_column(Text)

    release: Mapped[Release] = relationship(lazy="joined")


class ProjectSearch(Base):
    """What search shows of a project: its latest release and that release's summary
    (``tufpi.index.search``), kept in step in the transaction that renders its pages."""

    __tablename__ = "project_search"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)


# Search terms compare by code point on every database (prefix ranges), not by a locale.
_TERM = String(40).with_variant(String(40, collation="C"), "postgresql")


class SearchTerm(Base):
    """An inverted index for search: one row per word of a project's name or summary.

    Portable (a B-tree on both SQLite and PostgreSQL, no full-text syntax to escape): a
    query term matches the words it is a prefix of, as one index range.
    """

    __tablename__ = "search_terms"
    __table_args__ = (
        Index("ix_search_terms_project", "project_id", "term"),
        Index("ix_search_terms_in_name", "in_name", "term", "project_id"),
    )

    term: Mapped[str] = mapped_column(_TERM, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    # The word is one of the name's (its parts between - _ .): such matches rank first.
    in_name: Mapped[bool] = mapped_column(Boolean)


class RegisteredFilename(Base):
    """Every distribution filename the index ever accepted, kept forever: rows are never
    deleted, not with the file, its release or its project (like PyPI's file registry).

    An upload whose normalised filename (``tufpi.index.rules.normalized_filename``) is here
    is refused, unless it is the very file still present. ``normalized`` is not unique:
    twins accepted before that rule existed (migration 0004) keep their rows.
    """

    __tablename__ = "filename_registry"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300), unique=True)
    normalized: Mapped[str] = mapped_column(String(300), index=True)
    # Normalised name of the project that used it (kept after the project is gone).
    project: Mapped[str] = mapped_column(String(200))
    created: Mapped[dt.datetime]


class UpstreamProject(Base):
    """A project mirrored from an upstream index (``tufpi.upstream``): which one, where its
    page is, and when it was last read. A project without this row is hosted here only and
    never asks upstream (dependency confusion); ``upstream_allow`` names the exceptions,
    which have both local files and this row.
    """

    __tablename__ = "upstream_projects"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    # The upstream simple-API URL, as configured (``Settings.upstream``).
    upstream: Mapped[str] = mapped_column(Text)
    # Upstream's page of the project (PEP 708 ``tracks``).
    page_url: Mapped[str] = mapped_column(Text)
    refreshed: Mapped[dt.datetime]


# -- signed repository metadata (PEP 458) ------------------------------------------------------


class TrustConfig(Base):
    """How the repository was initialised; one row, written by ``tufpi trust init``."""

    __tablename__ = "trust_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_of_bins: Mapped[int] = mapped_column(Integer)
    initialised: Mapped[dt.datetime]


class Target(Base):
    """A file the repository vouches for: the desired content of the bin-n roles.

    Written by the web in the transaction that changes it; the signer builds each bin from
    these rows, so a bin's content never depends on replaying a log.
    """

    __tablename__ = "targets"
    # Everything a bin-n role lists, in bin order: the signer reads a run of bins as one
    # sequential range of this index, never touching the table (back-signing reads them all).
    __table_args__ = (Index("ix_targets_signing", "bin", "path", "length", "sha256", "sha512"),)

    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer)
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # None for a mirrored file the index does not hold yet: upstream states only sha256.
    sha512: Mapped[str | None] = mapped_column(String(128))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)


class TargetChange(Base):
    """The transaction log: every target added or removed, by whom, and which snapshot
    published it. Rows with no ``published_version`` are the signer's pending queue."""

    __tablename__ = "target_changes"
    # A project's changes still pending, counted by every request for its pages (their
    # cache key): an index range, empty once the signer published them.
    __table_args__ = (Index("ix_target_changes_project_pending", "project", "published_version"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    bin: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))  # "add" or "remove"
    length: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    sha512: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(100))
    # Normalised name of the project the target belongs to (kept after the project is gone).
    project: Mapped[str | None] = mapped_column(String(200), index=True)
    created: Mapped[dt.datetime]
    published_version: Mapped[int | None] = mapped_column(Integer, index=True)
    published_at: Mapped[dt.datetime | None]


class RoleState(Base):
    """The signer's record of each online role it published: version and expiry."""

    __tablename__ = "role_states"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    expires: Mapped[dt.datetime] = mapped_column(index=True)
    signed: Mapped[dt.datetime]


class Superseded(Base):
    """A versioned metadata file no longer current, removed after the grace period."""

    __tablename__ = "superseded_files"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(index=True)


class LogPending(Base):
    """A transparency-log entry written with the event it records (an upload, a yank, a
    removal, an import, a mirrored listing, a publication), not yet in the log: the
    sequencer (``tufpi.transparency``) moves it to ``log_leaves`` in ``id`` order."""

    __tablename__ = "log_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class LogLeaf(Base):
    """One leaf of the transparency log: its index, the entry's bytes and, for an entry
    naming a TUF target (a file added), the target's path, by which a client finds it."""

    __tablename__ = "log_leaves"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(500), index=True)
