"""The witness's HTTP service (c2sp.org/tlog-witness): ``POST /add-checkpoint``.

The route reads a bounded body, hands it to ``Witness.add_checkpoint`` in a thread (the
pure decision of ``tufpi.tlog.witness`` under the state file's lock, the new state written
durably before the answer) and renders the answer: 200 with the cosignature lines, 409 with
the witness's size as ``text/x.tlog.size``, any other refusal with its reason in plain
words. Slow or endless requests are cut off by tufpi's h11 protocol limits
(``tufpi.http.serve_app``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tufpi.clock import Clock
from tufpi.tlog import notes
from tufpi.tlog.witness import (
    MAX_REQUEST_BYTES,
    SIZE_CONTENT_TYPE,
    Accepted,
    Refused,
    WitnessKey,
    decide,
    size_body,
)
from tufpi.witness.state import StateError, StateFile

log = logging.getLogger("tufpi.witness")


class Witness:
    """A witness: its key, the logs it witnesses (origin to trusted keys), its state."""

    def __init__(
        self,
        key: WitnessKey,
        logs: Mapping[str, Sequence[notes.Verifier]],
        state: StateFile,
        clock: Clock,
    ) -> None:
        self.key = key
        self.logs = dict(logs)
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Accepted | Refused:
        """Decide on one add-checkpoint body; an accepted checkpoint's state is on disk
        before this returns (the spec: persist, then answer).

        Raises:
            StateError: the state file cannot be read or written.
        """
        with self.state.locked():
            states = self.state.read()
            now = int(self.clock().timestamp())
            answer = decide(body, self.logs, states, self.key, now)
            if isinstance(answer, Accepted) and states.get(answer.origin) != answer.state:
                try:
                    self.state.write({**states, answer.origin: answer.state})
                except OSError as e:
                    raise StateError(f"cannot write the state: {e.strerror or e}") from e
        return answer


def logs_of(vkeys: Sequence[str]) -> dict[str, list[notes.Verifier]]:
    """The logs named by vkeys (Ed25519 note keys; the key name is the log's origin).

    Raises:
        tufpi.tlog.notes.NoteError: a vkey is malformed or not an Ed25519 note key.
    """
    logs: dict[str, list[notes.Verifier]] = {}
    for vkey in vkeys:
        verifier = notes.parse_vkey(vkey)
        if verifier.type != notes.ED25519:
            raise notes.NoteError(f"the log key {verifier.name} is not an Ed25519 note key")
        logs.setdefault(verifier.name, []).append(verifier)
    return logs


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is over ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _render(answer: Accepted | Refused) -> Response:
    if isinstance(answer, Accepted):
        return Response(answer.body, 200, media_type="text/plain; charset=utf-8")
    if answer.status in (403, 409, 422):
        # Possible evidence of a misbehaving log (the spec allows keeping it): say so.
        log.warning("add-checkpoint refused (%d): %s", answer.status, answer.reason)
    if answer.status == 409 and answer.size is not None:
        # Exactly the spec's type: Starlette would add a charset to a text/ media type.
        headers = {"content-type": SIZE_CONTENT_TYPE}
        return Response(size_body(answer.size), 409, headers=headers)
    return PlainTextResponse(answer.reason + "\n", answer.status)


async def add_checkpoint(request: Request) -> Response:
    """``POST /add-checkpoint``."""
    witness: Witness = request.app.state.witness
    try:
        body = await _bounded_body(request, MAX_REQUEST_BYTES)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return PlainTextResponse(
            f"the request is over {MAX_REQUEST_BYTES} bytes (a signed checkpoint and at most "
            "63 proof lines)\n",
            413,
        )
    try:
        answer = await anyio.to_thread.run_sync(witness.add_checkpoint, body)
    except StateError as e:
        log.error("add-checkpoint: %s", e)
        return PlainTextResponse("the witness cannot read or write its state\n", 500)
    return _render(answer)


def create_app(witness: Witness) -> Starlette:
    """The witness's ASGI app."""
    app = Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])
    app.state.witness = witness
    return app
