"""The transparency log's pure core (issue 15): no I/O, no database, nothing of tufpi.

Offered to other packages (modules):

- ``hashing``: RFC 9162 Merkle tree hashes, inclusion and consistency proofs (``ProofError``);
- ``notes``: C2SP signed notes, Ed25519 signatures and timestamped cosignatures, vkeys
  (``NoteError``);
- ``checkpoints``: C2SP tlog checkpoints, formatted, parsed and verified.
"""

__all__ = ["checkpoints", "hashing", "notes"]
