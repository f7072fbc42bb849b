"""Search of projects by name and summary, on an inverted index in ``search_terms``.

``index_project`` and ``forget`` run in the transaction that renders or drops a project's
pages (``index.pages``), the one place every upload, yank, removal, import and mirrored
change passes; so search never shows a project other than as its pages are. ``search``
answers a query from at most ``CANDIDATES`` hits: each query term is one range of a B-tree
index, on SQLite and PostgreSQL alike, whatever the number of projects.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import ColumnElement, Select, and_, delete, exists, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, sessionmaker

from tufpi.db.models import Project, ProjectSearch, Release, SearchTerm, table_of
from tufpi.index.latest import latest_version
from tufpi.index.names import normalize
from tufpi.index.search_words import Query, parse_query, project_terms, rank, upper_bound

# Hits read and ranked for one query: a term matching more projects shows the best of the
# first CANDIDATES (those with the term in their name read first), and says so.
CANDIDATES = 1000
PAGE_SIZE = 20
MAX_PAGE = CANDIDATES // PAGE_SIZE


@dataclasses.dataclass(frozen=True)
class Hit:
    name: str
    normalized_name: str
    version: str | None
    summary: str | None


@dataclasses.dataclass(frozen=True)
class Results:
    """One page of a query's answer."""

    query: Query
    hits: tuple[Hit, ...]
    total: int  # hits found, at most CANDIDATES
    more: bool  # True: more than CANDIDATES matched (``total`` is a floor)
    page: int
    pages: int


def index_project(session: Session, project: Project) -> None:
    """Record ``project``'s latest release and its summary, and the words it is found by,
    as ``session`` sees it (in the caller's transaction)."""
    releases = session.execute(
        select(Release.version, Release.yanked).where(Release.project_id == project.id)
    ).all()
    version = latest_version((r[0], bool(r[1])) for r in releases)
    summary = None
    if version is not None:
        metadata = session.scalar(
            select(Release.core_metadata).where(
                Release.project_id == project.id, Release.version == version
            )
        )
        value = (metadata or {}).get("summary")
        summary = value if isinstance(value, str) else None
    forget(session, project.id)
    session.execute(
        insert(table_of(ProjectSearch)),
        [{"project_id": project.id, "version": version, "summary": summary}],
    )
    terms = project_terms(project.name, summary)
    session.execute(
        insert(table_of(SearchTerm)),
        [{"term": t, "project_id": project.id, "in_name": n} for t, n in terms.items()],
    )


def forget(session: Session, project_id: int) -> None:
    """Remove a project from search (before its row is deleted)."""
    session.execute(delete(table_of(SearchTerm)).where(SearchTerm.project_id == project_id))
    session.execute(delete(table_of(ProjectSearch)).where(ProjectSearch.project_id == project_id))


def _range(term_column: InstrumentedAttribute[str], term: str) -> ColumnElement[bool]:
    return and_(term_column >= term, term_column < upper_bound(term))


def _candidates(terms: tuple[str, ...], in_name: bool) -> Select[int]:
    """Projects matching every term, driven by the longest term's index range (``in_name``:
    only those with it in their name), the others checked per project."""
    ordered = sorted(terms, key=len, reverse=True)
    first = aliased(SearchTerm)
    query = select(first.project_id).where(_range(first.term, ordered[0]))
    if in_name:
        query = query.where(first.in_name.is_(True))
    for term in ordered[1:]:
        other = aliased(SearchTerm)
        query = query.where(
            exists().where(other.project_id == first.project_id, _range(other.term, term))
        )
    return query.limit(CANDIDATES * 2)


def _hit_ids(session: Session, query: Query) -> tuple[list[int], bool]:
    found: dict[int, None] = {}
    more = False
    for in_name in (True, False):
        rows = session.scalars(_candidates(query.terms, in_name)).all()
        more = more or len(rows) >= CANDIDATES * 2
        for project_id in rows:
            found.setdefault(project_id, None)
        if len(found) >= CANDIDATES:
            return list(found)[:CANDIDATES], True
    return list(found), more


def _exact_id(session: Session, text: str) -> int | None:
    name = normalize(text) if text else ""
    if not name or len(name) > 200:
        return None
    return session.scalar(select(Project.id).where(Project.normalized_name == name))


def search(sessions: sessionmaker[Session], raw: str, page: int = 1) -> Results:
    """Page ``page`` (from 1) of the projects matching ``raw``: the project named exactly
    so first, then those with the terms in their names, then in their summaries."""
    query = parse_query(raw)
    page = max(1, min(page, MAX_PAGE))
    with sessions() as session:
        exact = _exact_id(session, query.text)
        ids, more = _hit_ids(session, query) if query.terms else ([], False)
        if exact is not None and exact not in ids:
            ids.insert(0, exact)
        rows = (
            session.execute(
                select(
                    Project.id,
                    Project.name,
                    Project.normalized_name,
                    ProjectSearch.version,
                    ProjectSearch.summary,
                )
                .join(ProjectSearch, ProjectSearch.project_id == Project.id, isouter=True)
                .where(Project.id.in_(ids))
            ).all()
            if ids
            else []
        )
    ranked = sorted(rows, key=lambda r: rank(r[1], query.terms, r[0] == exact))
    start = (page - 1) * PAGE_SIZE
    hits = tuple(Hit(r[1], r[2], r[3], r[4]) for r in ranked[start : start + PAGE_SIZE])
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    return Results(query, hits, len(ranked), more, min(page, pages), pages)
