"""The index's side of C2SP tlog-witness: ask every configured witness, in parallel, to
cosign a new checkpoint, and keep the cosignatures that verify against the witness keys the
TUF root lists.

Each witness is sent ``POST <prefix>/add-checkpoint`` with the size it is believed to hold
(remembered from its last answer; 0 at first) and the consistency proof from there. A 409
says the witness holds another size (``text/x.tlog.size``): the request is made once more
from that size. Everything one witness takes, the retry included, ends by
``witness_timeout``; its answer is read up to a bound. A witness that is down, slow, refuses
or answers garbage costs one warning in the log and no cosignature: it never stops a
publication (the threshold decides what clients accept, not the sequencer).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence

import httpx

from tufpi.config import Settings
from tufpi.http import bound_transports, deadline_at
from tufpi.tlog import notes, witness
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.witness import AddCheckpoint, WitnessError

log = logging.getLogger("tufpi.transparency")

# A consistency proof: the hashes from a tree of ``old`` leaves to one of ``new`` leaves.
Consistency = Callable[[int, int], list[bytes]]
# The root's witness keys, read when a checkpoint is cosigned (a root ceremony may change
# them between two checkpoints).
WitnessKeys = Callable[[], Sequence[notes.Verifier]]


class _Refused(Exception):
    """One witness's answer that brings no cosignature; the message says why."""


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes


def _shown(url: str) -> str:
    """A URL without its credentials, for a log line."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class Witnesses:
    """The witnesses a log submits its checkpoints to.

    Args:
        urls: submission prefixes (setting ``witnesses``).
        keys: the root's witness keys (cosignature/v1 verifiers), read at each checkpoint.
        timeout: seconds each witness has per checkpoint, in all (``witness_timeout``).
        http: the HTTP client (one is made, and bounded by the deadline, when None).
    """

    def __init__(
        self,
        urls: Sequence[str],
        keys: WitnessKeys,
        timeout: float,
        http: httpx.Client | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.keys = keys
        self.timeout = timeout
        self.http = http if http is not None else httpx.Client(follow_redirects=False)
        bound_transports(self.http)
        # The size each witness was last seen to hold (what its next request's old line says).
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, keys: WitnessKeys) -> Witnesses:
        """The witnesses ``settings`` list, each with ``witness_timeout``."""
        return cls(settings.witnesses, keys, settings.witness_timeout)

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self.http.close()

    def cosign(
        self, signed_note: bytes, checkpoint: Checkpoint, consistency: Consistency
    ) -> list[notes.Signature]:
        """The verified cosignatures of ``checkpoint`` (whose signed note is
        ``signed_note``) by the root's witnesses: at most one per witness key, in the order
        of the root's list. Never raises for a witness's failure."""
        keys = list(self.keys())
        if not self.urls or not keys:
            return []
        text = checkpoint.text()
        consistency = _one_at_a_time(consistency)
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=len(self.urls), thread_name_prefix="tufpi-witness"
        ) as pool:
            futures = [
                pool.submit(self._one, url, signed_note, checkpoint, consistency)
                for url in self.urls
            ]
            lines = [line for future in futures for line in future.result()]
        kept = witness.verified_cosignatures(text, lines, keys)
        order = {(k.name, k.key_id): n for n, k in enumerate(keys)}
        return sorted(kept, key=lambda s: order[(s.name, s.key_id)])

    def _one(
        self, url: str, signed_note: bytes, checkpoint: Checkpoint, consistency: Consistency
    ) -> tuple[notes.Signature, ...]:
        """One witness's cosignature lines (unverified); none, with a warning, on failure."""
        try:
            with deadline_at(time.monotonic() + self.timeout):
                return self._submit(url, signed_note, checkpoint, consistency)
        except _Refused as e:
            log.warning("witness %s did not cosign %s: %s", _shown(url), _what(checkpoint), e)
        except httpx.HTTPError as e:
            log.warning(
                "witness %s did not cosign %s: %s (%s)",
                _shown(url),
                _what(checkpoint),
                type(e).__name__,
                e,
            )
        except Exception:
            # A witness's failure must never stop the log's publication: whatever it was,
            # it costs this witness's cosignature only.
            log.warning(
                "witness %s did not cosign %s", _shown(url), _what(checkpoint), exc_info=True
            )
        return ()

    def _submit(
        self, url: str, signed_note: bytes, checkpoint: Checkpoint, consistency: Consistency
    ) -> tuple[notes.Signature, ...]:
        with self._lock:
            old = self._sizes.get(url, 0)
        if old > checkpoint.size:
            old = 0  # a size from another log's history: ask the witness again
        answer = self._post(url, _request(old, signed_note, checkpoint, consistency))
        if answer.status == 409 and answer.content_type == witness.SIZE_CONTENT_TYPE:
            held = _held_size(answer.body)
            if held > checkpoint.size or held == old:
                self._remember(url, held)
                raise _Refused(
                    f"it holds size {held} (a larger tree, or another root at that size: a fork)"
                )
            answer = self._post(url, _request(held, signed_note, checkpoint, consistency))
        if answer.status != 200:
            raise _Refused(_refusal(answer))
        try:
            lines = witness.parse_cosignatures(checkpoint.text(), answer.body)
        except WitnessError as e:
            raise _Refused(str(e)) from None
        self._remember(url, checkpoint.size)
        return lines

    def _remember(self, url: str, size: int) -> None:
        with self._lock:
            self._sizes[url] = size

    def _post(self, url: str, body: bytes) -> _Answer:
        """POST ``body`` to the witness and read its answer, at most a bounded size."""
        headers = {"content-type": "text/plain; charset=utf-8"}
        with self.http.stream("POST", f"{url}/add-checkpoint", content=body, headers=headers) as r:
            data = bytearray()
            for chunk in r.iter_raw():
                data += chunk
                if len(data) > witness.MAX_RESPONSE_BYTES:
                    raise _Refused(f"its answer is over {witness.MAX_RESPONSE_BYTES} bytes")
            content_type = r.headers.get("content-type", "").split(";")[0].strip().lower()
            return _Answer(r.status_code, content_type, bytes(data))


def _one_at_a_time(consistency: Consistency) -> Consistency:
    """``consistency``, called by one witness's thread at a time (it reads the log's tiles,
    which need not be safe to read from several threads)."""
    lock = threading.Lock()

    def locked(old: int, new: int) -> list[bytes]:
        with lock:
            return consistency(old, new)

    return locked


def _request(
    old: int, signed_note: bytes, checkpoint: Checkpoint, consistency: Consistency
) -> bytes:
    proof = consistency(old, checkpoint.size) if 0 < old < checkpoint.size else []
    return AddCheckpoint(old, tuple(proof), signed_note).encode()


def _held_size(body: bytes) -> int:
    try:
        return witness.parse_size_body(body)
    except WitnessError as e:
        raise _Refused(f"409 with {e}") from None


def _refusal(answer: _Answer) -> str:
    """A refusal's status and the first line of its reason, printable and short."""
    if answer.status == 409 and answer.content_type == witness.SIZE_CONTENT_TYPE:
        return f"HTTP 409: it holds size {_held_size(answer.body)} with another root hash"
    first = answer.body[:200].decode("utf-8", "replace").split("\n", 1)[0]
    reason = "".join(c if c.isprintable() else "?" for c in first)
    return f"HTTP {answer.status}" + (f": {reason}" if reason else "")


def _what(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.origin} size {checkpoint.size}"
