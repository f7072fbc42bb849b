"""The transparency log's I/O (issue 15): entries recorded with their events, the sequencer
that appends them to the log in the elected signer, tiles and checkpoints in storage.

The pure parts (hashes, proofs, tiles, notes, entries) are ``tufpi.tlog``.

Offered to other packages:

- ``record``: write log entries in the caller's transaction (the event's own);
- ``Sequencer`` (with ``LogKey``, ``TufFiles``, ``SequenceResult``, ``Cosign``: the
  witnesses' cosigning it may be given, with ``Consistency`` proofs, and ``CosignRetry``,
  when a checkpoint short of cosignatures is offered again): append pending entries
  and publish tiles, lookups and the signed checkpoint; ``LogError`` when it cannot;
- ``bound_log_key``, ``LogKeyMismatch``: the log key the TUF root names, checked against
  the one held;
- ``layout``: the log's storage keys (``tlog/...``), the lookup files' format and which
  paths below ``/tlog/`` the log publishes (``is_log_path``);
- ``Witnesses``: submit a checkpoint to the configured witnesses (C2SP tlog-witness) and
  keep the cosignatures by the root's witness keys (``Witnesses.cosign``).
"""

from tufpi.transparency import layout
from tufpi.transparency.binding import LogKeyMismatch, bound_log_key
from tufpi.transparency.publications import TufFiles
from tufpi.transparency.recording import record
from tufpi.transparency.sequencer import (
    Consistency,
    Cosign,
    CosignRetry,
    LogError,
    LogKey,
    Sequencer,
    SequenceResult,
)
from tufpi.transparency.witnesses import Witnesses

__all__ = [
    "Consistency",
    "Cosign",
    "CosignRetry",
    "LogError",
    "LogKey",
    "LogKeyMismatch",
    "SequenceResult",
    "Sequencer",
    "TufFiles",
    "Witnesses",
    "bound_log_key",
    "layout",
    "record",
]
