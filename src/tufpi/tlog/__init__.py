"""The transparency log's pure core (issue 15): no I/O, no database, nothing of tufpi.

Offered to other packages (modules):

- ``hashing``: RFC 9162 Merkle tree hashes, inclusion and consistency proofs (``ProofError``);
- ``notes``: C2SP signed notes, Ed25519 signatures and timestamped cosignatures, vkeys
  (``NoteError``);
- ``checkpoints``: C2SP tlog checkpoints, formatted, parsed and verified;
- ``entries``: the log's entries (files added, yanks, removals, TUF publications), each
  with one encoding (``EntryError``);
- ``policy``: the log a TUF root pins (``ROOT_FIELD``): its key, witnesses, threshold;
- ``tiles``: C2SP tlog-tiles coordinates and paths, entry bundles, tree hashes and proofs
  from tile contents (``TileError``);
- ``witness``: C2SP tlog-witness add-checkpoint bodies and a witness's decision on one
  (``WitnessError``).
"""

__all__ = ["checkpoints", "entries", "hashing", "notes", "policy", "tiles", "witness"]
