"""The transparency log's I/O (issue 15): entries recorded with their events, the sequencer
that appends them to the log in the elected signer, tiles and checkpoints in storage.

The pure parts (hashes, proofs, tiles, notes, entries) are ``tufpi.tlog``.

Offered to other packages:

- ``record``: write log entries in the caller's transaction (the event's own);
- ``Witnesses``: submit a checkpoint to the configured witnesses (C2SP tlog-witness) and
  keep the cosignatures by the root's witness keys (``Witnesses.cosign``).
"""

from tufpi.transparency.recording import record
from tufpi.transparency.witnesses import Witnesses

__all__ = ["Witnesses", "record"]
