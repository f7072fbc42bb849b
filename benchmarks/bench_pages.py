"""Benchmark the pages for people: a project page with 1,000 files and search answers at
100,000 projects, against ``/simple/big-project/`` served by the same process as baseline.

For ``tufpi serve`` on SQLite and (with ``--postgres-url``) on PostgreSQL: the big project
is loaded as uploads leave it (``simple_data.load_tufpi``, which also indexes it for
search), then 100,000 more projects are written straight into the tables search reads
(``projects``, ``project_search``, ``search_terms``), with summaries drawn from a
vocabulary of 2,000 words. The measurement starts once the server's signer has published
the big project, so nothing changes during it. Prints requests/s, p50 and p99 per page, and
each page's ratio to the baseline. Goal: p99 under 50 ms. See docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_pages.py [--quick] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from bench_simple import _bin, _wait_for_signer, initialised_tufpi, machine, running
from common import default_postgres_url, postgres_database
from loadgen import LOCALHOST, Result, Target, measure
from simple_data import BIG, Dist, load_tufpi, make_dataset, wheel
from sqlalchemy import Engine, insert, select, text

from tufpi.db import make_engine
from tufpi.db.models import Project, ProjectSearch, SearchTerm, table_of
from tufpi.index.search_words import project_terms

GOAL_P99 = 0.050
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ENCODING = "gzip, deflate"
VOCABULARY = 2_000
CHUNK = 5_000
MATRIX = "wheel-matrix"
COUNT = b'id="result-count"'  # on every answer to a query, whatever it found


def vocabulary(size: int) -> list[str]:
    """``size`` distinct pronounceable words, the same every run."""
    rng = random.Random(16)
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: dict[str, None] = {}
    while len(words) < size:
        length = rng.randint(2, 4)
        words.setdefault(
            "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(length)), None
        )
    return list(words)


def many_projects(engine: Engine, count: int, words: list[str]) -> tuple[str, str, list[str]]:
    """Write ``count`` projects with a summary each, as search reads them; returns a
    project name and a word of its summary (the repeated queries), and every name."""
    rng = random.Random(458)
    now = dt.datetime.now(dt.UTC)
    start = 0
    example = ("", "")
    names: list[str] = []
    with engine.begin() as conn:
        first_id = int(conn.execute(select(Project.id).order_by(Project.id.desc())).scalar() or 0)
    while start < count:
        batch = range(start, min(start + CHUNK, count))
        projects, searches, terms = [], [], []
        for i in batch:
            name = f"{rng.choice(words)}-{rng.choice(words)}-{i:06d}"
            summary = " ".join(rng.choice(words) for _ in range(rng.randint(5, 10)))
            project_id = first_id + 1 + i
            projects.append({"id": project_id, "name": name, "normalized_name": name,
                             "created": now, "serial": 2})  # fmt: skip
            searches.append({"project_id": project_id, "version": "1.0", "summary": summary})
            terms += [
                {"term": t, "project_id": project_id, "in_name": n}
                for t, n in project_terms(name, summary).items()
            ]
            example = (name, summary.split()[0])
            names.append(name)
        with engine.begin() as conn:
            conn.execute(insert(table_of(Project)), projects)
            conn.execute(insert(table_of(ProjectSearch)), searches)
            conn.execute(insert(table_of(SearchTerm)), terms)
        start += CHUNK
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT setval('projects_id_seq', (SELECT max(id) FROM projects))"))
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return (*example, names)


def matrix(files: int) -> list[Dist]:
    """A wheel matrix: ``files`` wheels of ``MATRIX`` 2.0, one per (Python, platform) tag,
    all in one release (its project page lists them all)."""
    pythons = [f"cp3{minor}" for minor in range(8, 16)]
    glibcs = range(17, 17 + -(-files // len(pythons)))
    tags = [f"{py}-{py}-manylinux_2_{glibc}_x86_64" for glibc in glibcs for py in pythons]
    return [wheel(MATRIX, "2.0", tag) for tag in tags[:files]]


def checker(needle: bytes) -> Callable[[bytes], None]:
    """Refuse a body that does not hold ``needle`` (a file name, a result's link)."""

    def check(body: bytes) -> None:
        if body.startswith(b"\x1f\x8b"):
            body = gzip.decompress(body)
        if needle not in body:
            raise SystemExit(f"the answer lacks {needle!r}: {body[:300]!r}")

    return check


def _search(port: int, query: str) -> Target:
    return Target(port, f"/search/?q={query}", BROWSER_ACCEPT, ENCODING)


def targets(port: int, name: str, word: str, files: int) -> list[tuple[str, Target, bytes]]:
    """The pages asked again and again: the project pages and search answers are cached."""
    last = f"1.{(files - 1) // 2}.0"
    wheels = matrix(files)
    pip = "application/vnd.pypi.simple.v1+json"
    return [
        ("baseline: simple page (JSON)", Target(port, f"/simple/{BIG}/", pip, ENCODING),
         b"big_project-"),
        (f"project page, {files // 2:,} releases of 2 files", Target(port, f"/project/{BIG}/",
         BROWSER_ACCEPT, ENCODING), f"big_project-{last}".encode()),
        (f"project page, one release of {files:,} files", Target(port, f"/project/{MATRIX}/",
         BROWSER_ACCEPT, ENCODING), wheels[-1].filename.encode()),
        ("search: exact name", _search(port, name), f'href="/project/{name}/"'.encode()),
        ("search: one word", _search(port, word), b'class="result"'),
        ("search: two words", _search(port, f"{word}+{name.split('-', maxsplit=1)[0]}"),
         b"<h1>Search</h1>"),
        ("search: a prefix of 2", _search(port, word[:2]), b'class="result"'),
    ]  # fmt: skip


def uncached(
    port: int, names: list[str], words: list[str], wanted: int
) -> list[tuple[str, Target, bytes]]:
    """Search answers the cache cannot help: every request of a measurement (and of its
    warm-up) asks another query, at most ``wanted`` distinct ones of each kind."""
    rng = random.Random(1016)
    step = max(1, len(names) // wanted)
    exact = [f"/search/?q={n}" for n in names[::step][:wanted]]
    one = [f"/search/?q={w}" for w in words[:wanted]]
    pairs: dict[str, None] = {}
    while len(pairs) < min(wanted, len(words) ** 2 // 2):
        pairs.setdefault(f"/search/?q={rng.choice(words)}+{rng.choice(words)}", None)
    prefixes = sorted({w[:2] for w in words})
    paged = [f"/search/?q={p}&page={n}" for n in range(1, 11) for p in prefixes][:wanted]
    rows = [
        ("exact names", "`/search/?q=<a project name>`", exact),
        ("one word", "`/search/?q=<a word>`", one),
        ("two words", "`/search/?q=<word>+<word>`", list(pairs)),
        ("prefixes of 2, pages 1 to 10", "`/search/?q=<2 letters>&page=<1-10>`", paged),
    ]
    return [
        (f"search, uncached: {kind} ({len(paths):,} distinct)",
         Target(port, label, BROWSER_ACCEPT, ENCODING, tuple(paths)), COUNT)
        for kind, label, paths in rows
    ]  # fmt: skip


def _first(label: str, port: int, path: str) -> None:
    first = time.perf_counter()
    httpx.get(f"http://{LOCALHOST}:{port}{path}", timeout=60).raise_for_status()
    print(f"{label}: first (uncached) {path} in {(time.perf_counter() - first) * 1000:.0f} ms",
          flush=True)  # fmt: skip


def measure_server(label: str, url: str, args: argparse.Namespace, work: Path) -> list[str]:
    base = work / label.lower()
    started = time.perf_counter()
    env, port = initialised_tufpi(base, url)
    load_tufpi(make_dataset(1, args.files) + matrix(args.files), url, base / "data" / "files")
    engine = make_engine(url)
    words = vocabulary(VOCABULARY)
    name, word, names = many_projects(engine, args.projects, words)
    engine.dispose()
    print(f"{label}: loaded {args.projects:,} projects in {time.perf_counter() - started:.0f} s",
          flush=True)  # fmt: skip
    rows = []
    with running([_bin("tufpi"), "serve", "--log-level", "warning"], env, port,
                 base / "serve.log"):  # fmt: skip
        _wait_for_signer(url)  # then nothing changes during the measurement
        for path in (f"/project/{BIG}/", f"/project/{MATRIX}/"):
            _first(label, port, path)
        baseline: Result | None = None
        wanted = args.warmup + args.requests
        measured = targets(port, name, word, args.files)
        measured += uncached(port, names, words, wanted)
        for what, target, needle in measured:
            # A rotation's measurement goes on where its warm-up stopped: no query twice.
            count = min(args.requests, len(target.paths) - args.warmup) if target.paths else (
                args.requests)  # fmt: skip
            measure(target, args.warmup, args.concurrency, args.max_seconds, checker(needle))
            result = measure(target, count, args.concurrency, args.max_seconds,
                             checker(needle), first=args.warmup)  # fmt: skip
            baseline = baseline or result
            p99 = result.percentile(99)
            path = target.path if target.paths else f"`{target.path}`"
            rows.append(
                f"| {label} | {what} | {path} | {result.requests} | {result.rps:.0f} | "
                f"{result.percentile(50) * 1000:.1f} | {p99 * 1000:.1f} | "
                f"{result.rps / baseline.rps:.2f}x | {'met' if p99 < GOAL_P99 else 'MISSED'} |"
            )
            print(rows[-1], flush=True)
    return rows


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 500 projects, 50 files, 100 requests")  # fmt: skip
    parser.add_argument("--projects", type=int, help="projects for search (default 100,000)")
    parser.add_argument("--files", type=int, help="files of big-project (default 1,000)")
    parser.add_argument("--requests", type=int, help="requests per measurement (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--postgres-url", default=default_postgres_url(),
                        help="admin URL of a PostgreSQL server (omitted: SQLite only)")  # fmt: skip
    args = parser.parse_args(argv)
    args.projects = args.projects or (500 if args.quick else 100_000)
    args.files = args.files or (50 if args.quick else 1_000)
    args.requests = args.requests or (100 if args.quick else 2_000)
    args.warmup = 10 if args.quick else 100
    args.max_seconds = 2.0 if args.quick else 30.0
    return args


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tufpi-bench-pages-") as work:
        yield Path(work)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    rows = [
        "| database | page | path | requests | req/s | p50 ms | p99 ms | vs baseline | "
        f"p99 < {GOAL_P99 * 1000:g} ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(_workdir())
        rows += measure_server("SQLite", f"sqlite:///{work / 'pages.sqlite3'}", args, work)
        if args.postgres_url:
            url = stack.enter_context(postgres_database(args.postgres_url))
            rows += measure_server("PostgreSQL", url, args, work)
        else:
            print("PostgreSQL: skipped (no --postgres-url)")
    print("\nMachine:\n" + "\n".join(machine()) + "\n")
    print("\n".join(rows))
    print(f"\n{args.concurrency} connections, at most {args.requests} requests or "
          f"{args.max_seconds:g} s per page, after {args.warmup} warm-up requests; "
          f"{args.projects:,} projects, big-project with {args.files:,} files, "
          f"{MATRIX} 2.0 with {args.files:,} wheels.")  # fmt: skip
    if args.quick:
        print("--quick: a smoke run on a small data set; the goal is for the full run.")


if __name__ == "__main__":
    sys.exit(main())
