"""Search on a real database (SQLite, and PostgreSQL when available) through the real index
service: what uploads, yanks and removals do to it in their own transactions, the ranking,
paging, and hostile queries (full-text syntax, huge, unicode) answered without error."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version
from sqlalchemy import func, select

from tufpi.db import make_engine, make_sessionmaker, upgrade
from tufpi.db.models import ProjectSearch, SearchTerm, TrustConfig
from tufpi.db.session import make_write_sessionmaker
from tufpi.index import AccountService, Identity, IndexService, search
from tufpi.index.names import parse_dist_filename
from tufpi.index.search_words import words
from tufpi.index.upload import StagedFile, UploadForm, hash_file, inspect
from tufpi.storage import LocalStorage

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def _wheel(directory: Path, name: str, version: str, summary: str) -> Path:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n\n"
    members = {
        f"{dist}/__init__.py": "",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": "",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    path.write_bytes(buffer.getvalue())
    return path


class Index:
    def __init__(self, url: str, work: Path) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        writes = make_write_sessionmaker(self.engine)
        with writes.begin() as session:
            session.add(TrustConfig(number_of_bins=64, initialised=NOW))
        self.service = IndexService(
            self.sessions, writes, LocalStorage(work / "files"), lambda: NOW
        )
        accounts = AccountService(self.sessions, lambda: NOW)
        accounts.add_user("alice")
        self.alice: Identity = accounts.authenticate(
            ("__token__", accounts.create_token("alice", None))
        )
        self.work = work

    def upload(self, name: str, version: str, summary: str) -> None:
        built = _wheel(self.work / f"built-{name}-{version}", name, version, summary)
        staged = self.work / f"staged-{built.name}"
        staged.write_bytes(built.read_bytes())
        form = UploadForm(
            name, Version(version), "bdist_wheel", "py3", "2.1", None, None, None, None
        )
        dist = inspect(form, parse_dist_filename(built.name), StagedFile(staged, hash_file(staged)))
        assert self.service.upload(self.alice, form, dist).created

    def names(self, query: str, page: int = 1) -> list[str]:
        return [h.name for h in search.search(self.sessions, query, page).hits]


@pytest.fixture(scope="module")
def index(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    work = tmp_path_factory.mktemp("search")
    built = Index(database_url or f"sqlite:///{work / 'db.sqlite3'}", work)
    built.upload("requests", "2.0", "HTTP for Humans")
    built.upload("requests-toolbelt", "1.0", "A utility belt for advanced users of requests")
    built.upload("httpx", "0.27", "The next generation HTTP client")
    built.upload("Flask_Login", "0.6", "User session management for Flask")
    built.upload("zeta-tool", "1.0", "Un outil pour Ünïcode et « guillemets »")
    yield built
    built.engine.dispose()


def test_the_exact_name_comes_first_then_names_then_summaries(index: Index) -> None:
    assert index.names("requests") == ["requests", "requests-toolbelt"]
    # A summary word finds the project; a name word ranks above it.
    assert index.names("http") == ["httpx", "requests"]
    assert index.names("flask login") == ["Flask_Login"]
    assert index.names("FLASK-LOGIN") == ["Flask_Login"]


def test_terms_are_prefixes_and_all_must_match(index: Index) -> None:
    assert index.names("tool") == ["zeta-tool", "requests-toolbelt"]
    assert index.names("belt requ") == ["requests-toolbelt"]  # "belt": in its summary
    assert index.names("olbelt") == []  # a term begins a word: "toolbelt" is one word
    assert index.names("utility http") == []
    assert index.names("nothing-like-this") == []


def test_unicode_is_case_folded_and_normalised(index: Index) -> None:
    assert index.names("ÜNÏCODE") == ["zeta-tool"]
    assert index.names("guillemets") == ["zeta-tool"]


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        "*",
        'NEAR(requests "http',
        "requests OR 1=1 --",
        "'; DROP TABLE projects; --",
        "\x00\x01 requests",
        "\U0010ffff\ud7ff",
        "a" * 10_000,
        "requests " * 2_000,
        "%_%",
        "\\",
    ],
)
def test_a_hostile_query_is_just_words(index: Index, hostile: str) -> None:
    results = search.search(index.sessions, hostile.replace("\ud7ff", "\ud7fe"))
    assert results.page == 1
    assert len(results.hits) <= search.PAGE_SIZE
    if words(hostile) == ["requests"]:  # nothing else is a word of it
        assert [h.name for h in results.hits] == ["requests", "requests-toolbelt"]


def test_a_long_query_is_cut_and_says_so(index: Index) -> None:
    results = search.search(index.sessions, "requests " + "x" * 300)
    assert results.query.cut
    assert search.search(index.sessions, "a b c d e f g h").query.cut


def test_uploads_yanks_and_removals_keep_search_in_step(
    own_database_url: str | None, tmp_path: Path
) -> None:
    fresh = Index(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    fresh.upload("pager", "1.0", "Old words")
    fresh.upload("pager", "2.0", "Fresh words")
    assert fresh.names("fresh") == ["pager"]
    assert fresh.names("old") == []  # the latest release's summary only
    fresh.service.set_yanked("pager", "2.0", True, "broken")
    assert fresh.names("old") == ["pager"]  # 2.0 yanked: 1.0 is the latest now
    hit = search.search(fresh.sessions, "pager").hits[0]
    assert (hit.version, hit.summary) == ("1.0", "Old words")
    fresh.service.remove("pager", "1.0")
    assert fresh.names("fresh") == ["pager"]  # only the yanked 2.0 is left: shown
    fresh.service.remove("pager")
    assert fresh.names("pager") == []
    with fresh.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SearchTerm)) == 0
        assert session.scalar(select(func.count()).select_from(ProjectSearch)) == 0
    fresh.engine.dispose()


def test_pages_of_results(index: Index) -> None:
    # Many hits: paged PAGE_SIZE at a time, in a stable order.
    for number in range(search.PAGE_SIZE + 3):
        index.upload(f"pagedlib-{number:02d}", "1.0", "paged")
    first = search.search(index.sessions, "pagedlib", 1)
    second = search.search(index.sessions, "pagedlib", 2)
    assert (first.total, first.pages, second.page) == (search.PAGE_SIZE + 3, 2, 2)
    assert len(first.hits) == search.PAGE_SIZE
    assert len(second.hits) == 3
    assert not {h.name for h in first.hits} & {h.name for h in second.hits}
    assert search.search(index.sessions, "pagedlib", 99).page == 2
