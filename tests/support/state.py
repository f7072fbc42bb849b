"""What an index holds, read straight from its database and data directory: for the tests'
"a refused request changed nothing" checks, and their queries of single tables."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, text

# The tables of what the index accepted and signs (not the signer's own bookkeeping).
INDEX_TABLES = (
    "users",
    "tokens",
    "projects",
    "owners",
    "releases",
    "files",
    "targets",
    "target_changes",
    "journal",
)
# The signer marks changes published on its own schedule, and refreshes tuf/ likewise.
SIGNER_COLUMNS = frozenset({"published_version", "published_at"})
# What the signer writes on its own schedule: the TUF metadata and the transparency log.
SIGNER_DIRS = ("files/tuf", "files/tlog")
# Files under the data directory that change whatever a request does.
VOLATILE_FILES = frozenset(
    {"serve.log", "signer.log", "tufpi.sqlite3", "tufpi.sqlite3-wal", "tufpi.sqlite3-shm"}
)


class Index(Protocol):
    """What the snapshot reads of an index (tests.support.server.IndexServer has both)."""

    database_url: str
    data_dir: Path


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the index's database, as tuples."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def table_rows(database_url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table in ``INDEX_TABLES`` (less ``SIGNER_COLUMNS``), sorted."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    tuple(f"{k}={v}" for k, v in r._mapping.items() if k not in SIGNER_COLUMNS)
                    for r in conn.execute(text(f"SELECT * FROM {table}"))
                )
                for table in INDEX_TABLES
            }
    finally:
        engine.dispose()


def _bookkeeping(path: Path) -> bool:
    """A process's staging lock (``.staging/<owner>.lock``), made the first time that process
    stages a write, whatever the write: no stored data. A staged file is data, and counts."""
    return path.parent.name == ".staging" and path.suffix == ".lock"


def stored_tree(root: Path, skip: tuple[str, ...] = SIGNER_DIRS) -> dict[str, str]:
    """The sha256 of every file anywhere under ``root``, less ``VOLATILE_FILES``, staging
    locks and what is under the directories ``skip`` names (the signer writes tuf/ and the
    transparency log's tlog/ on its own schedule)."""
    return {
        key: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name not in VOLATILE_FILES
        and not _bookkeeping(p)
        and not (key := p.relative_to(root).as_posix()).startswith(tuple(f"{d}/" for d in skip))
    }


def snapshot(index: Index) -> dict[str, object]:
    """Every row of the index's tables and every byte it stored: equal before and after a
    request when that request changed nothing. The stored bytes are those of the whole data
    directory (so a write that escaped the storage root shows too)."""
    return {"rows": table_rows(index.database_url), "tree": stored_tree(index.data_dir)}


def counts(index: Index) -> dict[str, object]:
    """The lighter view, for runs that may rewrite rows or storage bookkeeping in place (an
    import run again): row counts of ``INDEX_TABLES`` and the names of the stored
    distributions and pages (not tuf/, which the signer refreshes on its own schedule)."""
    rows = {t: query(index.database_url, f"SELECT count(*) FROM {t}")[0][0] for t in INDEX_TABLES}
    files_dir = index.data_dir / "files"
    files = sorted(
        str(p.relative_to(files_dir))
        for top in ("packages", "simple")
        for p in (files_dir / top).rglob("*")
        if p.is_file()
    )
    return {"rows": rows, "files": files}
