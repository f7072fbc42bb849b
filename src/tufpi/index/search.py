"""Search of projects by name and summary, on an inverted index in ``search_terms``.

``index_project`` and ``forget`` run in the transaction that renders or drops a project's
pages (``index.pages``), the one place every upload, yank, removal, import and mirrored
change passes; so search never shows a project other than as its pages are. ``search``
answers a query from at most ``CANDIDATES`` hits: each query term is one range of a B-tree
index, on SQLite and PostgreSQL alike, whatever the number of projects.
"""

from __future__ import annotations

import dataclasses
import functools

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, sessionmaker

from tufpi.db.models import Project, ProjectSearch, Release, SearchTerm, TargetChange, table_of
from tufpi.index.latest import latest_version
from tufpi.index.names import is_valid_project_name, normalize
from tufpi.index.search_words import Query, parse_query, project_terms, rank, upper_bound

# Hits read and ranked for one query: a term matching more projects shows the best of the
# first CANDIDATES (those with the term in their name read first), and says so. Ranking
# is Python's, per hit: this bounds a query's time whatever the number of projects.
CANDIDATES = 200
PAGE_SIZE = 20
# Rows read beyond CANDIDATES: a project can match one term by two of its words (a prefix).
_SPARE = 20
# The newest rows of ``target_changes`` counted by ``generation`` (see there).
GENERATION_WINDOW = 10_000


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


@functools.cache
def _generation_query() -> Select[int, int]:
    newest = select(func.max(TargetChange.id)).scalar_subquery()
    recent = (
        select(func.count())
        .select_from(TargetChange)
        .where(TargetChange.id > func.coalesce(newest, 0) - GENERATION_WINDOW)
        .scalar_subquery()
    )
    return select(func.coalesce(newest, 0), recent)


def generation(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """A value that changes whenever a search's answer can: the newest row of the
    transaction log (``target_changes``) and how many rows are among its newest
    ``GENERATION_WINDOW`` ids. Two index ranges of the primary key, one round trip.

    Every change to search (``index_project``, ``forget``) runs in
    ``index.pages.store_pages`` or ``drop_pages``, in the transaction that also re-renders
    or withdraws the project's simple pages, which are TUF targets: an upload, yank,
    removal, import or mirrored change alters the page (its files, their yanked marks),
    so ``changes.set_targets`` or ``drop_target`` writes a row of ``target_changes`` in the
    same transaction, and the newest id grows. Rows are never deleted. The count covers
    PostgreSQL committing out of id order: a transaction holding id 10 may commit after
    one holding id 11, leaving the newest id as it was; the count of the window then grows.
    Not an in-process counter: several ``tufpi serve`` processes may share the database."""
    with sessions() as session:
        row = session.execute(_generation_query()).one()
    return int(row[0]), int(row[1])


def _range(term_column: InstrumentedAttribute[str], number: int) -> ColumnElement[bool]:
    return and_(term_column >= bindparam(f"t{number}"), term_column < bindparam(f"u{number}"))


@functools.cache
def _candidates(terms: int, in_name: bool) -> Select[int, str]:
    """Projects (id, name) matching ``terms`` terms (bound as t0/u0, t1/u1...: each term
    and its ``upper_bound``), driven by the index range of t0 among the words of names
    (``in_name``) or of summaries, the other terms checked per project; at most ``:limit``
    rows. Built once per shape."""
    first = aliased(SearchTerm)
    query = (
        select(first.project_id, Project.name)
        .join(Project, Project.id == first.project_id)
        .where(first.in_name.is_(in_name), _range(first.term, 0))
    )
    for number in range(1, terms):
        other = aliased(SearchTerm)
        query = query.where(
            exists().where(other.project_id == first.project_id, _range(other.term, number))
        )
    return query.limit(bindparam("limit"))


def _parameters(terms: tuple[str, ...]) -> dict[str, str]:
    """The bound terms, the longest first: it drives the query (the fewest words begin it)."""
    ordered = sorted(terms, key=len, reverse=True)
    values = {f"t{n}": t for n, t in enumerate(ordered)}
    return values | {f"u{n}": upper_bound(t) for n, t in enumerate(ordered)}


def _hits(session: Session, terms: tuple[str, ...]) -> tuple[dict[int, str], dict[int, str], bool]:
    """(name hits, summary-only hits, whether more matched than read), each id -> name, at
    most CANDIDATES in all. Read as plain rows (no ORM)."""
    values: dict[str, object] = {**_parameters(terms), "limit": CANDIDATES + _SPARE}
    connection = session.connection()
    in_name: dict[int, str] = {}
    for project_id, name in connection.execute(_candidates(len(terms), True), values):
        if len(in_name) == CANDIDATES:
            return in_name, {}, True
        in_name[project_id] = name
    others: dict[int, str] = {}
    values["limit"] = CANDIDATES - len(in_name) + _SPARE
    for project_id, name in connection.execute(_candidates(len(terms), False), values):
        if project_id not in in_name:
            if len(in_name) + len(others) == CANDIDATES:
                return in_name, others, True
            others[project_id] = name
    return in_name, others, False


def _exact(session: Session, text: str) -> tuple[int, str] | None:
    """The project named ``text`` exactly (as normalised); None if it is no valid name."""
    if not text or len(text) > 200 or not is_valid_project_name(text):
        return None
    row = session.execute(
        select(Project.id, Project.name).where(Project.normalized_name == normalize(text))
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _ranked(
    query: Query, exact: tuple[int, str] | None, session: Session
) -> tuple[list[int], bool]:
    """Every hit's id, best first: the exact name, the names holding the terms (by
    ``rank``), then the rest by name (shorter first)."""
    in_name, others, more = _hits(session, query.terms) if query.terms else ({}, {}, False)
    ids = [exact[0]] if exact is not None else []
    by_name = sorted(in_name.items(), key=lambda item: rank(item[1], query.terms, False))
    ids += [i for i, _ in by_name if exact is None or i != exact[0]]
    by_length = sorted(others.items(), key=lambda item: (len(item[1]), item[1].casefold()))
    ids += [i for i, _ in by_length if exact is None or i != exact[0]]
    return ids, more


def search(sessions: sessionmaker[Session], raw: str, page: int = 1) -> Results:
    """Page ``page`` (from 1) of the projects matching ``raw``: the project named exactly
    so first, then those with the terms in their names, then in their summaries."""
    query = parse_query(raw)
    with sessions() as session:
        ids, more = _ranked(query, _exact(session, query.text), session)
        pages = max(1, -(-len(ids) // PAGE_SIZE))
        page = max(1, min(page, pages))
        shown = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        rows = session.execute(
            select(
                Project.id,
                Project.name,
                Project.normalized_name,
                ProjectSearch.version,
                ProjectSearch.summary,
            )
            .join(ProjectSearch, ProjectSearch.project_id == Project.id, isouter=True)
            .where(Project.id.in_(shown))
        ).all()
    found = {r[0]: Hit(r[1], r[2], r[3], r[4]) for r in rows}
    hits = tuple(found[i] for i in shown if i in found)
    return Results(query, hits, len(ids), more, page, pages)
