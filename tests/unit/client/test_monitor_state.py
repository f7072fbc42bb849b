"""``tufpi monitor``'s state file and metrics (tufpi.client.monitor_state, pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.static_log import WHEN, StaticLog, publication
from tufpi.client.monitor_log import follow
from tufpi.client.monitor_state import Counters, State, StateError, parse_state, render_metrics
from tufpi.client.monitoring import Event, Heartbeat


def _state(tmp_path: Path) -> State:
    log = StaticLog(tmp_path)
    log.append(publication(1), publication(2))
    progress = follow(log.policy, None, 0, log.fetch(), 1)
    counters = Counters().counted([Event(0, None, 'a"b', ("why",)), Event(1, None, None)], WHEN)
    return State(progress.signed, progress.position, Heartbeat(1, publication(2)), counters)


def test_the_state_reads_back_as_written(tmp_path: Path) -> None:
    state = _state(tmp_path)
    assert parse_state(state.to_json()) == state
    assert parse_state(State().to_json()) == State()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"format": 2}, "not a tufpi monitor state file"),
        ({"position": 3}, "the position 3 is not within 0 and 2"),
        ({"position": -1}, "-1 is not a count"),
        ({"checkpoint": "not a note\n"}, "the saved checkpoint does not parse"),
        ({"publication": {"index": 0, "entry": "{}"}}, "the saved publication does not parse"),
        ({"counters": {}}, "does not parse"),
    ],
)
def test_a_state_file_not_written_by_the_monitor_is_refused(
    tmp_path,
    change: dict[str, object],
    complaint: str,
) -> None:
    document = json.loads(_state(tmp_path).to_json())
    document.update(change)
    with pytest.raises(StateError, match=complaint):
        parse_state(json.dumps(document).encode())


def test_the_metrics_are_prometheus_text_with_every_watched_project(tmp_path: Path) -> None:
    text = render_metrics(_state(tmp_path), ["quiet"])
    assert text.endswith("\n")
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        "tufpi_monitor_log_size 2",
        "tufpi_monitor_position 1",
        'tufpi_monitor_events_total{project="a\\"b"} 1',
        'tufpi_monitor_events_total{project="quiet"} 0',
        'tufpi_monitor_unexpected_events_total{project="a\\"b"} 1',
        'tufpi_monitor_unexpected_events_total{project="quiet"} 0',
        "tufpi_monitor_log_anomalies_total 1",
        "tufpi_monitor_verification_failures_total 0",
        f"tufpi_monitor_last_success_timestamp_seconds {int(WHEN.timestamp())}",
        f"tufpi_monitor_last_publication_timestamp_seconds {int(WHEN.timestamp())}",
    ]
    assert "# TYPE tufpi_monitor_unexpected_events_total counter" in text
