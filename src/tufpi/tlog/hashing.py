"""RFC 9162 (RFC 6962) Merkle tree hashing: leaf and node hashes, the tree head of a list of
leaf hashes, and inclusion and consistency proofs (made and verified).

Pure functions on bytes; SHA-256 throughout. A tree of ``n`` leaves splits at ``k``, the
largest power of two below ``n``: the left subtree holds leaves ``[0, k)`` and the right
``[k, n)`` (RFC 9162 section 2.1.1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


# MTH(D[start:end]) for a range the RFC 9162 recursion visits (``start`` is a multiple of
# the largest power of two not above ``end - start``): from a list of leaf hashes, or
# from tiles (``tiles.range_hasher``).
RangeHash = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof, or the sizes and hashes given with it, does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` at least 2)."""
    if size < 2:
        raise ValueError(f"a tree of {size} leaves does not split")
    return 1 << ((size - 1).bit_length() - 1)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head (MTH) of the given leaf hashes; the empty tree's is SHA-256("")."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree(leaf_hashes, 0, len(leaf_hashes))


def _subtree(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """The hash of the subtree over ``hashes[start:end]`` (non-empty)."""
    if end - start == 1:
        return hashes[start]
    middle = start + split_point(end - start)
    return node_hash(_subtree(hashes, start, middle), _subtree(hashes, middle, end))


def list_hasher(leaf_hashes: Sequence[bytes]) -> RangeHash:
    """The ``RangeHash`` over a list of leaf hashes."""

    def range_hash(start: int, end: int) -> bytes:
        return _subtree(leaf_hashes, start, end)

    return range_hash


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path (RFC 9162 PATH) of leaf ``index`` in the tree of ``leaf_hashes``,
    nearest sibling first."""
    return inclusion_proof_from(index, len(leaf_hashes), list_hasher(leaf_hashes))


def inclusion_proof_from(index: int, size: int, range_hash: RangeHash) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves, its subtree hashes
    read through ``range_hash``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + split_point(end - start)
        if index < middle:
            proof.append(range_hash(middle, end))
            end = middle
        else:
            proof.append(range_hash(start, middle))
            start = middle
    proof.reverse()
    return proof


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof (RFC 9162 PROOF) that the tree of the first ``old_size`` leaves is a prefix
    of the tree of all ``leaf_hashes``; empty when the sizes are equal."""
    return consistency_proof_from(old_size, len(leaf_hashes), list_hasher(leaf_hashes))


def consistency_proof_from(old_size: int, new_size: int, range_hash: RangeHash) -> list[bytes]:
    """The consistency proof from ``old_size`` to ``new_size``, its subtree hashes read
    through ``range_hash``."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    proof: list[bytes] = []
    old, start, end, whole = old_size, 0, new_size, True
    while old != end - start:  # RFC 9162 SUBPROOF, its tail recursion as a loop
        middle = split_point(end - start)
        if old <= middle:
            proof.append(range_hash(start + middle, end))
            end = start + middle
        else:
            proof.append(range_hash(start, start + middle))
            old, start, whole = old - middle, start + middle, False
    if not whole:
        proof.append(range_hash(start, end))
    proof.reverse()
    return proof


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves
    whose head is ``root`` (RFC 9162 section 2.1.3.2); raise ``ProofError`` if not."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    for what, value in [("the leaf hash", leaf), ("the root hash", root)]:
        _check_hash(what, value)
    computed = _root_from_path(index, size, leaf, proof)
    if computed != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root hash")


def _root_from_path(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that an audit path leads to from ``leaf``."""
    fn, sn, result = index, size - 1, leaf
    for number, sibling in enumerate(proof):
        _check_hash(f"proof hash {number}", sibling)
        if sn == 0:
            raise ProofError(f"the inclusion proof is too long ({len(proof)} hashes)")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the inclusion proof is too short ({len(proof)} hashes)")
    return result


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` leaves with head ``old_root`` is a prefix of the
    tree of ``new_size`` leaves with head ``new_root`` (RFC 9162 section 2.1.4.2); raise
    ``ProofError`` if not. An empty old tree is consistent with any tree."""
    for what, value in [("the old root hash", old_root), ("the new root hash", new_root)]:
        _check_hash(what, value)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of {old_size} leaves cannot grow into {new_size} leaves")
    if old_size in (0, new_size):
        if proof:
            raise ProofError("the consistency proof must be empty for these sizes")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"two different root hashes for the same tree size {old_size}")
        return
    old, new = _roots_from_consistency(old_size, new_size, old_root, proof)
    if old != old_root:
        raise ProofError("the consistency proof does not lead to the old root hash")
    if new != new_root:
        raise ProofError("the consistency proof does not lead to the new root hash")


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (old, new) roots a consistency proof leads to, 0 < old_size < new_size."""
    if not proof:
        raise ProofError("the consistency proof is empty")
    for number, value in enumerate(proof):
        _check_hash(f"proof hash {number}", value)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency proof is too long ({len(proof)} hashes)")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(sibling, fr), node_hash(sibling, sr)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the consistency proof is too short ({len(proof)} hashes)")
    return fr, sr
