"""RFC 9162 hashing and proofs against the published RFC 6962 vectors, and every proof of
small trees made and verified both ways, with tampered proofs refused."""

from __future__ import annotations

import hashlib

import pytest

from tests.unit.tlog.vectors import (
    CONSISTENCY,
    INCLUSION,
    LEAVES,
    NODES,
    PUBLISHED_CONSISTENCY,
    PUBLISHED_INCLUSION,
    ROOTS,
)
from tufpi.tlog import hashing
from tufpi.tlog.hashing import ProofError

HASHES = [hashing.leaf_hash(leaf) for leaf in LEAVES]


def test_leaf_and_node_hashes_are_the_published_ones() -> None:
    assert NODES[0] == HASHES
    for level in range(1, len(NODES)):
        below = NODES[level - 1]
        made = [hashing.node_hash(below[i], below[i + 1]) for i in range(0, len(below), 2)]
        assert made == NODES[level]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_hash_of_each_prefix_is_the_published_root(size: int) -> None:
    assert hashing.root_hash(HASHES[:size]) == ROOTS[size]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashing.EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proof_matches_the_vector_and_verifies(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert hashing.inclusion_proof(index, HASHES[:size]) == proof
    hashing.verify_inclusion(index, size, HASHES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proof_matches_the_vector_and_verifies(
    old: int, new: int, proof: list[bytes]
) -> None:
    assert hashing.consistency_proof(old, HASHES[:new]) == proof
    hashing.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def _tree(size: int) -> list[bytes]:
    return [hashing.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]


def test_every_inclusion_proof_of_small_trees_verifies_and_no_other_leaf_does() -> None:
    for size in range(1, 34):
        leaves = _tree(size)
        root = hashing.root_hash(leaves)
        for index in range(size):
            proof = hashing.inclusion_proof(index, leaves)
            hashing.verify_inclusion(index, size, leaves[index], proof, root)
            other = leaves[(index + 1) % size]
            if size > 1:
                with pytest.raises(ProofError):
                    hashing.verify_inclusion(index, size, other, proof, root)


def test_every_consistency_proof_of_small_trees_verifies() -> None:
    for new in range(1, 34):
        leaves = _tree(new)
        new_root = hashing.root_hash(leaves)
        for old in range(1, new + 1):
            proof = hashing.consistency_proof(old, leaves)
            old_root = hashing.root_hash(leaves[:old])
            hashing.verify_consistency(old, new, old_root, new_root, proof)
            if old < new:
                forked = hashing.root_hash([*leaves[: old - 1], hashing.leaf_hash(b"x")])
                with pytest.raises(ProofError):
                    hashing.verify_consistency(old, new, forked, new_root, proof)


def test_tampered_inclusion_proofs_are_refused_with_their_reason() -> None:
    index, size, proof = INCLUSION[2]
    root, leaf = ROOTS[size], HASHES[index]
    with pytest.raises(ProofError, match="does not lead to the root"):
        hashing.verify_inclusion(index, size, leaf, [proof[0], proof[2], proof[1]], root)
    with pytest.raises(ProofError, match="too short"):
        hashing.verify_inclusion(index, size, leaf, proof[:-1], root)
    with pytest.raises(ProofError, match="too long"):
        hashing.verify_inclusion(index, size, leaf, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="not in a tree of 8"):
        hashing.verify_inclusion(8, size, leaf, proof, root)
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        hashing.verify_inclusion(index, size, leaf, [proof[0], proof[1][:31], proof[2]], root)
    with pytest.raises(ProofError, match="does not lead to the root"):
        hashing.verify_inclusion(index - 1, size, leaf, proof, root)


def test_tampered_consistency_proofs_are_refused_with_their_reason() -> None:
    old, new, proof = CONSISTENCY[2]
    with pytest.raises(ProofError, match="new root"):
        hashing.verify_consistency(old, new, ROOTS[old], ROOTS[new - 1], proof)
    with pytest.raises(ProofError, match="old root"):
        hashing.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new], proof)
    with pytest.raises(ProofError, match="too short"):
        hashing.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1])
    with pytest.raises(ProofError, match="too long"):
        hashing.verify_consistency(old, new, ROOTS[old], ROOTS[new], [*proof, proof[0]])
    with pytest.raises(ProofError, match="is empty"):
        hashing.verify_consistency(old, new, ROOTS[old], ROOTS[new], [])
    with pytest.raises(ProofError, match="cannot grow"):
        hashing.verify_consistency(new, old, ROOTS[new], ROOTS[old], proof)
    with pytest.raises(ProofError, match="same tree size"):
        hashing.verify_consistency(new, new, ROOTS[new], ROOTS[old], [])
    with pytest.raises(ProofError, match="must be empty"):
        hashing.verify_consistency(0, new, ROOTS[0], ROOTS[new], proof)


def test_making_proofs_outside_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="not in a tree of 8"):
        hashing.inclusion_proof(8, HASHES)
    with pytest.raises(ValueError, match="from size 9 to size 8"):
        hashing.consistency_proof(9, HASHES)


@pytest.mark.parametrize(("index", "size", "hexes"), PUBLISHED_INCLUSION)
def test_published_inclusion_proofs_are_made_and_survive_no_mutation(
    index: int, size: int, hexes: list[str]
) -> None:
    proof = [bytes.fromhex(h) for h in hexes]
    assert hashing.inclusion_proof(index, HASHES[:size]) == proof
    root, leaf = ROOTS[size], HASHES[index]
    hashing.verify_inclusion(index, size, leaf, proof, root)
    some = bytes.fromhex("abacaba0" + "00" * 24 + "60061e00")
    mutations = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, hashing.leaf_hash(b"wrong"), proof, root),
        (index, size, leaf, proof, ROOTS[0]),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
        (index, size, leaf, [proof[0], some, *proof[1:]], root),
        *(
            (index, size, leaf, [*proof[:i], bytes([p[0] ^ 8]) + p[1:], *proof[i + 1 :]], root)
            for i, p in enumerate(proof)
        ),
    ]
    for mutated in mutations:
        with pytest.raises(ProofError):
            hashing.verify_inclusion(*mutated)


@pytest.mark.parametrize(("old", "new", "hexes"), PUBLISHED_CONSISTENCY)
def test_published_consistency_proofs_are_made_and_survive_no_mutation(
    old: int, new: int, hexes: list[str]
) -> None:
    proof = [bytes.fromhex(h) for h in hexes]
    assert hashing.consistency_proof(old, HASHES[:new]) == proof
    r1, r2 = ROOTS[old], ROOTS[new]
    hashing.verify_consistency(old, new, r1, r2, proof)
    if not proof:
        return
    mutations = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, ROOTS[0], r2, proof),
        (old, new, r1, ROOTS[0], proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
        *(
            (old, new, r1, r2, [*proof[:i], bytes([p[0] ^ 16]) + p[1:], *proof[i + 1 :]])
            for i, p in enumerate(proof)
        ),
    ]
    for mutated in mutations:
        with pytest.raises(ProofError):
            hashing.verify_consistency(*mutated)
