"""What ``tufpi monitor`` keeps between runs (its state file), and its metrics in the
Prometheus text exposition format (pure: values in, bytes out, and back).

The state file is JSON: the log followed (its origin), the newest checkpoint verified (the
signed note, byte for byte), the position (the leaves read and reported so far, at most that
checkpoint's size), the newest publication seen, and the counters the metrics report (so
they only grow, across runs from cron). A run that fails verification moves neither the
checkpoint nor the position; it only counts the failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tufpi.client.log_checks import SignedCheckpoint
from tufpi.client.monitoring import Event, Heartbeat
from tufpi.tlog import checkpoints, entries, notes
from tufpi.tlog.entries import EntryError, Published
from tufpi.tlog.notes import NoteError

FORMAT = 1
MAX_STATE_BYTES = 16 * 1024 * 1024


class StateError(ValueError):
    """A state file that is not one ``tufpi monitor`` wrote."""


@dataclasses.dataclass(frozen=True)
class Counters:
    """What the metrics count, per watched project where it says so."""

    events: Mapping[str, int] = dataclasses.field(default_factory=dict)
    unexpected: Mapping[str, int] = dataclasses.field(default_factory=dict)
    log_anomalies: int = 0
    verification_failures: int = 0
    last_success: float | None = None

    def counted(self, found: Iterable[Event], now: dt.datetime) -> Counters:
        """The counters after a successful round that found ``found``."""
        events, unexpected, anomalies = dict(self.events), dict(self.unexpected), 0
        for event in found:
            if event.project is None:
                anomalies += 1
                continue
            events[event.project] = events.get(event.project, 0) + 1
            if event.unexpected:
                unexpected[event.project] = unexpected.get(event.project, 0) + 1
        return dataclasses.replace(
            self,
            events=events,
            unexpected=unexpected,
            log_anomalies=self.log_anomalies + anomalies,
            last_success=now.timestamp(),
        )

    def failed(self) -> Counters:
        """The counters after a round that could not verify the log."""
        return dataclasses.replace(self, verification_failures=self.verification_failures + 1)


@dataclasses.dataclass(frozen=True)
class State:
    """The monitor's memory of one log."""

    signed: SignedCheckpoint | None = None
    position: int = 0
    heartbeat: Heartbeat | None = None
    counters: Counters = dataclasses.field(default_factory=Counters)

    def __post_init__(self) -> None:
        size = self.signed.checkpoint.size if self.signed is not None else 0
        if not 0 <= self.position <= size:
            raise StateError(f"the position {self.position} is not within 0 and {size}")

    def to_json(self) -> bytes:
        """The state file's bytes."""
        signed = self.signed
        document: dict[str, Any] = {
            "format": FORMAT,
            "origin": signed.checkpoint.origin if signed is not None else None,
            "checkpoint": signed.note.decode() if signed is not None else None,
            "position": self.position,
            "publication": _heartbeat_json(self.heartbeat),
            "counters": dataclasses.asdict(self.counters),
        }
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


def _heartbeat_json(heartbeat: Heartbeat | None) -> dict[str, Any] | None:
    if heartbeat is None:
        return None
    return {"index": heartbeat.index, "entry": entries.encode_entry(heartbeat.publication).decode()}


def parse_state(data: bytes) -> State:
    """The state a file holds.

    Raises:
        StateError: not JSON, another format, or a field that does not parse.
    """
    if len(data) > MAX_STATE_BYTES:
        raise StateError(f"the state file is over {MAX_STATE_BYTES} bytes")
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise StateError(f"not a tufpi monitor state file (format {FORMAT})")
        return State(
            _signed(document["checkpoint"]),
            _count(document["position"]),
            _heartbeat(document["publication"]),
            _counters(document["counters"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        if isinstance(e, StateError):
            raise
        raise StateError(f"the state file does not parse: {e!r}") from e


def _signed(note: Any) -> SignedCheckpoint | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise StateError("the saved checkpoint is not a string")
    try:  # verified when saved; its signatures are not re-checked (the key may rotate)
        parsed = notes.parse_note(note.encode())
        return SignedCheckpoint(note.encode(), checkpoints.parse_checkpoint(parsed.text))
    except NoteError as e:
        raise StateError(f"the saved checkpoint does not parse: {e}") from e


def _heartbeat(value: Any) -> Heartbeat | None:
    if value is None:
        return None
    try:
        entry = entries.parse_entry(str(value["entry"]).encode())
    except EntryError as e:
        raise StateError(f"the saved publication does not parse: {e}") from e
    if not isinstance(entry, Published):
        raise StateError("the saved publication is not a publication entry")
    return Heartbeat(_count(value["index"]), entry)


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise StateError(f"{value!r} is not a count")
    return value


def _counters(value: Any) -> Counters:
    last = value["last_success"]
    if last is not None and not isinstance(last, int | float):
        raise StateError("last_success is not a time")
    return Counters(
        {str(k): _count(v) for k, v in value["events"].items()},
        {str(k): _count(v) for k, v in value["unexpected"].items()},
        _count(value["log_anomalies"]),
        _count(value["verification_failures"]),
        last,
    )


# ----- metrics -----


def _label(value: str) -> str:
    """A label value escaped as the text format asks (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(state: State, projects: Iterable[str]) -> str:
    """The metrics of ``state`` for the watched ``projects``, in the Prometheus text
    exposition format (node_exporter's textfile collector reads it)."""
    counters = state.counters
    watched = sorted(set(projects) | set(counters.events) | set(counters.unexpected))
    size = state.signed.checkpoint.size if state.signed is not None else 0

    def per_project(values: Mapping[str, int]) -> list[tuple[str, float]]:
        return [(f'{{project="{_label(p)}"}}', values.get(p, 0)) for p in watched]

    families = [
        _family(
            "tufpi_monitor_log_size",
            "gauge",
            "Leaves of the newest verified checkpoint.",
            [("", size)],
        ),
        _family(
            "tufpi_monitor_position",
            "gauge",
            "Leaves read and reported so far.",
            [("", state.position)],
        ),
        _family(
            "tufpi_monitor_events_total",
            "counter",
            "Log entries of a watched project.",
            per_project(counters.events),
        ),
        _family(
            "tufpi_monitor_unexpected_events_total",
            "counter",
            "Log entries of a watched project that the watch list did not expect.",
            per_project(counters.unexpected),
        ),
        _family(
            "tufpi_monitor_log_anomalies_total",
            "counter",
            "Unreadable entries and publications out of order (rollback, split view).",
            [("", counters.log_anomalies)],
        ),
        _family(
            "tufpi_monitor_verification_failures_total",
            "counter",
            "Runs that could not verify the log (signature, witnesses, fork, unreachable).",
            [("", counters.verification_failures)],
        ),
    ]
    if counters.last_success is not None:
        families.append(
            _family(
                "tufpi_monitor_last_success_timestamp_seconds",
                "gauge",
                "When the log was last verified and read (Unix time).",
                [("", counters.last_success)],
            )
        )
    if state.heartbeat is not None:
        published = state.heartbeat.publication.time.timestamp()
        families.append(
            _family(
                "tufpi_monitor_last_publication_timestamp_seconds",
                "gauge",
                "The time of the newest TUF publication the log holds (Unix time).",
                [("", published)],
            )
        )
    return "".join(families)
