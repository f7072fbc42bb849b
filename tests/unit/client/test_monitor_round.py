"""One round of ``tufpi monitor`` (tufpi.client.monitor.run_round): the state file, the
report, the exit code, the metrics and the fork evidence, over a log of static files."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from pathlib import Path
from typing import Any

from tests.support.static_log import WHEN, StaticLog, file_entry, publication
from tufpi.client import monitor
from tufpi.client.monitoring import parse_watch_list
from tufpi.tlog import entries, tiles

WATCH = parse_watch_list('[project.example-pkg]\naccounts = ["alice"]\n')
NOW = WHEN + dt.timedelta(minutes=5)


def _options(tmp_path: Path, **more: Any) -> monitor.Options:
    return monitor.Options(
        tmp_path / "state.json",
        WATCH,
        tmp_path / "monitor.prom",
        **more,
    )


def _round(log: StaticLog, options: monitor.Options) -> monitor.Outcome:
    return monitor.run_round(lambda: log.policy, log.fetch(), options, lambda: NOW)


def _metric(options: monitor.Options, line_start: str) -> str:
    assert options.metrics_file is not None
    lines = options.metrics_file.read_text().splitlines()
    return next(line for line in lines if line.startswith(line_start + " "))


def test_events_of_watched_projects_are_reported_once_from_the_saved_position(
    tmp_path: Path,
) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(file_entry("example-pkg", "example_pkg-1.0.tar.gz"), file_entry("other", "o.whl"))
    log.append(publication(1))
    first = _round(log, options)
    assert first.code == monitor.EXIT_OK
    assert first.lines[0].startswith("2026-12-07T12:00:00Z example-pkg file example_pkg-1.0")
    assert "UNEXPECTED" not in first.lines[0]
    assert first.lines[1] == (
        "log index.example.org/tlog: size 3, read leaves 0 to 2, 0 unexpected; newest "
        "publication: timestamp version 1 at 2026-12-07T12:00:00Z (leaf 2)"
    )
    log.append(file_entry("example-pkg", "example_pkg-1.1.tar.gz"))
    second = _round(log, options)
    assert len(second.lines) == 2
    assert "example_pkg-1.1.tar.gz" in second.lines[0]
    assert "read leaves 3 to 3" in second.lines[1]
    assert _round(log, options).lines == (
        "log index.example.org/tlog: size 4, no new entries, 0 unexpected; newest publication: "
        "timestamp version 1 at 2026-12-07T12:00:00Z (leaf 2)",
    )
    assert _metric(options, 'tufpi_monitor_events_total{project="example-pkg"}').endswith(" 2")
    assert _metric(options, "tufpi_monitor_log_size") == "tufpi_monitor_log_size 4"
    assert _metric(options, "tufpi_monitor_last_success_timestamp_seconds").endswith(
        f" {int(NOW.timestamp())}"
    )


def test_an_unexpected_uploader_exits_1_and_counts_in_the_metrics(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(file_entry("example-pkg", "example_pkg-6.6.6.tar.gz", account="mallory", token=9))
    outcome = _round(log, options)
    assert outcome.code == monitor.EXIT_UNEXPECTED
    assert outcome.lines[0].endswith(
        "account=mallory token=9 via=upload leaf=0 UNEXPECTED: added by mallory, not one of alice"
    )
    unexpected = 'tufpi_monitor_unexpected_events_total{project="example-pkg"}'
    assert _metric(options, unexpected) == f"{unexpected} 1"
    # Reported once: the next round finds nothing new and exits 0; the counter stays.
    again = _round(log, options)
    assert again.code == monitor.EXIT_OK
    assert _metric(options, unexpected) == f"{unexpected} 1"


def _log_state(options: monitor.Options) -> tuple[object, ...]:
    state = json.loads(options.state_file.read_text())
    return state["checkpoint"], state["position"], state["publication"]


def test_a_fork_exits_2_saves_the_evidence_and_leaves_the_position(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(*(file_entry("example-pkg", f"example_pkg-{n}.tar.gz") for n in range(5)))
    assert _round(log, options).code == monitor.EXIT_OK
    before = _log_state(options)
    forked = [entries.encode_entry(file_entry("example-pkg", f"f-{n}.tar.gz")) for n in range(9)]
    log.write_tiles(forked)
    log.write_checkpoint(forked)
    outcome = _round(log, options)
    assert outcome.code == monitor.EXIT_UNVERIFIED
    assert outcome.lines == ()
    assert outcome.failure is not None
    assert "fork: the log's tree of size 9 does not contain the kept tree of size 5" in (
        outcome.failure
    )
    evidence = tmp_path / "state.json.evidence-20261207T120500Z.txt"
    assert f"saved in {evidence}: publish it" in outcome.failure
    shown = evidence.read_text()
    assert shown.startswith("tufpi: evidence of a fork of a transparency log\n")
    assert "detected: 2026-12-07T12:05:00Z" in shown
    assert log.read("checkpoint").decode() in shown
    assert before[0] in shown  # the kept checkpoint, as saved in the state
    assert _log_state(options) == before
    assert _metric(options, "tufpi_monitor_verification_failures_total").endswith(" 1")
    assert _metric(options, "tufpi_monitor_position") == "tufpi_monitor_position 5"


def test_a_bundle_altered_from_its_tiles_exits_2_and_reports_nothing(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(file_entry("example-pkg", "example_pkg-1.0.tar.gz"))
    assert _round(log, options).code == monitor.EXIT_OK
    before = _log_state(options)
    log.append(file_entry("example-pkg", "example_pkg-6.6.6.tar.gz", account="mallory"))
    hidden = [log.leaves[0], entries.encode_entry(file_entry("example-pkg", "innocent.tar.gz"))]
    log.write("tile/entries/000.p/2", tiles.encode_bundle(hidden))
    outcome = _round(log, options)
    assert outcome.code == monitor.EXIT_UNVERIFIED
    assert outcome.failure is not None
    assert "tile/entries/000.p/2 does not match the hash tile tile/0/000.p/2" in outcome.failure
    assert _log_state(options) == before


def test_a_state_file_that_does_not_parse_is_left_alone(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(publication(1))
    options.state_file.write_text('{"format": 1, "position": -3}')
    outcome = _round(log, options)
    assert outcome.code == monitor.EXIT_UNVERIFIED
    assert outcome.failure is not None
    assert "state.json" in outcome.failure
    assert options.state_file.read_text() == '{"format": 1, "position": -3}'


def test_from_now_starts_at_the_log_s_current_size(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path, from_now=True)
    log.append(file_entry("example-pkg", "old.tar.gz", account="mallory"))
    first = _round(log, options)
    assert first.code == monitor.EXIT_OK
    assert "no new entries" in first.lines[0]
    log.append(file_entry("example-pkg", "new.tar.gz", account="mallory"))
    second = _round(log, options)
    assert second.code == monitor.EXIT_UNEXPECTED
    assert "new.tar.gz" in second.lines[0]
    assert len(second.lines) == 2


def test_a_log_without_a_recent_publication_is_stale(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    log.append(publication(1, when=WHEN - dt.timedelta(days=2)))
    outcome = _round(log, _options(tmp_path, max_age=dt.timedelta(days=1)))
    assert outcome.code == monitor.EXIT_UNEXPECTED
    assert outcome.lines[-1].startswith("STALE: the newest publication (timestamp version 1, ")
    fresh = StaticLog(tmp_path / "fresh")
    fresh.append(publication(1))
    outcome = _round(fresh, _options(tmp_path / "f", max_age=dt.timedelta(days=1)))
    assert outcome.code == monitor.EXIT_OK


def test_a_round_capped_by_max_entries_says_what_is_left(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path, max_entries=2)
    log.append(*(publication(n) for n in range(5)))
    assert _round(log, options).lines[-1] == "3 entries left to read: the next round reads on"
    assert _round(log, options).lines[-1] == "1 entry left to read: the next round reads on"
    assert "read leaves 4 to 4" in _round(log, options).lines[-1]


def test_a_round_is_skipped_while_another_holds_the_state_file(tmp_path: Path) -> None:
    log = StaticLog(tmp_path / "log")
    options = _options(tmp_path)
    log.append(file_entry("example-pkg", "example_pkg-1.0.tar.gz", account="mallory"))
    with open(tmp_path / "state.json.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        outcome = _round(log, options)
    assert outcome.code == monitor.EXIT_UNVERIFIED
    assert (
        outcome.failure
        == f"another tufpi monitor is using {options.state_file}: this round is skipped"
    )
    assert not options.state_file.exists()
    assert _round(log, options).code == monitor.EXIT_UNEXPECTED  # the lock is free again
    assert oct(options.state_file.stat().st_mode & 0o777) == "0o644"
