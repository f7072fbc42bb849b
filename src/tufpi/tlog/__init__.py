"""The transparency log's pure core (issue 15): no I/O, no database, nothing of tufpi.

Offered to other packages (modules):

- ``hashing``: RFC 9162 Merkle tree hashes, inclusion and consistency proofs (``ProofError``).
"""

__all__ = ["hashing"]
