"""``tufpi monitor``: follow an index's transparency log and report what it did not expect."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from tufpi.cli.client import _connect, _default_cache, _log_safely
from tufpi.client import monitor as monitor_io
from tufpi.client.credentials import (
    TOKEN_ENV,
    CredentialsError,
    Redactor,
    parse_index_url,
)
from tufpi.client.monitoring import MAX_WATCH_BYTES, WatchError, WatchList, parse_watch_list
from tufpi.client.text import printable
from tufpi.client.verified_index import ClientBounds
from tufpi.clock import utcnow

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _watch_list(path: Path) -> WatchList:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_WATCH_BYTES + 1)
    except OSError as e:
        raise click.UsageError(f"--watch {path}: {e.strerror}") from e
    if len(data) > MAX_WATCH_BYTES:
        raise click.UsageError(f"--watch {path}: over {MAX_WATCH_BYTES} bytes")
    try:
        return parse_watch_list(data.decode("utf-8"))
    except (WatchError, UnicodeDecodeError) as e:
        raise click.UsageError(f"--watch {path}: {e}") from e


def _root(value: str | None) -> tuple[Path | None, str | None]:
    """``--root``: a 64-hex sha256 (a pin) or a root file."""
    if value is None:
        return None, None
    if _SHA256.match(value):
        return None, value.lower()
    path = Path(value)
    if not path.is_file():
        raise click.UsageError(f"--root {value}: neither a sha256 (64 hex digits) nor a file")
    return path, None


@click.command()
@click.argument("url")
@click.option(
    "--root",
    help="The index's root: the sha256 of its first root (as `tufpi pin URL` prints it), or "
    "a trusted root.json file. Default: the root cached by an earlier run.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where the position in the log is kept between runs (JSON, replaced atomically).",
)
@click.option(
    "--watch",
    "watch_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The watch list (TOML): per project, the expected accounts, tokens and paths.",
)
@click.option(
    "--metrics",
    "metrics_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write Prometheus metrics here (text format, replaced atomically: a "
    "node_exporter textfile collector's NAME.prom).",
)
@click.option("--once", is_flag=True, help="One round, then exit with its code (cron, CI).")
@click.option(
    "--quiet",
    is_flag=True,
    help="Print only what needs a person: UNEXPECTED events, STALE, failures (cron mails "
    "only then).",
)
@click.option(
    "--interval", type=float, default=300.0, show_default=True, help="Seconds between rounds."
)
@click.option(
    "--max-age",
    type=float,
    help="Report the log as STALE (exit 1) when its newest publication is older than this "
    "many seconds (an index logs each publication and re-signs its timestamp daily).",
)
@click.option(
    "--max-entries",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Most entries one round reads; the rest is read by the next.",
)
@click.option(
    "--from-now",
    is_flag=True,
    help="With no state yet: start at the log's current size instead of its first entry.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=_default_cache,
    show_default="~/.cache/tufpi",
    help="Verified TUF metadata (shared with tufpi install and proxy).",
)
@click.option(
    "--download-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Most seconds one download (metadata, checkpoint, tile) may take.",
)
def monitor(
    url: str,
    root: str | None,
    watch_file: Path,
    once: bool,
    quiet: bool,
    interval: float,
    max_age: float | None,
    cache_dir: Path,
    download_timeout: float,
    **options: Any,
) -> None:
    """Follow the transparency log of the index at URL and report every event of the
    projects the watch list names, marking each one it did not expect.

    \b
    Exit codes (with --once):
      0  the log verified and nothing unexpected happened
      1  an UNEXPECTED event (or, with --max-age, a STALE log)
      2  the log could not be verified or read (bad signature, too few witnesses,
         a fork or rollback: its evidence is saved and named; unreachable), or the
         command could not run; the saved position did not move
    """
    watch = _watch_list(watch_file)
    trusted = _root(root)
    try:
        address = parse_index_url(url, os.environ.get(TOKEN_ENV) or None)
    except CredentialsError as e:
        raise click.UsageError(str(e)) from e
    logging.basicConfig(level=logging.WARNING, format="tufpi monitor: %(message)s")
    _log_safely(address)
    age = dt.timedelta(seconds=max_age) if max_age is not None else None
    settings = monitor_io.Options(
        options["state_file"],
        watch,
        options["metrics_file"],
        options["max_entries"],
        age,
        options["from_now"],
        address.url.rstrip("/") + "/tlog/",
    )
    with _connect(address) as client:
        bounds = ClientBounds(download_timeout=download_timeout)
        policy = monitor_io.RootPolicy(address, cache_dir, trusted, client, bounds)
        fetch = monitor_io.http_fetch(bounds.fetcher(client), address.url)
        while True:
            outcome = monitor_io.run_round(policy, fetch, settings, utcnow)
            for line in outcome.notable if quiet else outcome.lines:
                click.echo(line)
            if outcome.failure is not None:
                message = f"tufpi monitor: the log could not be verified: {outcome.failure}"
                click.echo(printable(Redactor(address.secrets).scrub(message)), err=True)
            if once:
                sys.exit(outcome.code)
            if not outcome.behind:  # with entries left to read, the next round starts at once
                time.sleep(interval)
