"""Which release a project shows (as PyPI picks it) and the words search indexes (pure)."""

from __future__ import annotations

import pytest

from tufpi.index.latest import latest_version
from tufpi.index.search_words import (
    MAX_QUERY,
    MAX_TERMS,
    MAX_WORD,
    MAX_WORDS,
    parse_query,
    project_terms,
    rank,
    upper_bound,
    words,
)


@pytest.mark.parametrize(
    ("releases", "expected"),
    [
        ([], None),
        ([("1.0", False), ("2.0", False), ("1.5", False)], "2.0"),
        ([("1.0", False), ("2.0", True)], "1.0"),  # yanked
        ([("1.0", False), ("2.0rc1", False)], "1.0"),  # pre-release
        ([("1.0a1", False), ("1.0b1", False)], "1.0b1"),  # only pre-releases: the newest
        ([("1.0", True), ("2.0", True)], "2.0"),  # all yanked: the newest
        ([("2.0rc1", False), ("1.0", True)], "2.0rc1"),  # not yanked beats final
        ([("not-a-version", False), ("0.1", False)], "0.1"),
        ([("not-a-version", False)], "not-a-version"),
        ([("1.10", False), ("1.9", False)], "1.10"),  # versions, not strings
    ],
)
def test_latest_version(releases: list[tuple[str, bool]], expected: str | None) -> None:
    assert latest_version(releases) == expected


def test_words_are_folded_split_and_bounded() -> None:
    assert words("Flask_Login-Ext.v2") == ["flask", "login", "ext", "v2"]
    assert words("ÉCOLE école ﬁle") == ["école", "file"]  # case-folded, NFKC (the ligature)
    assert words("x" * 100) == ["x" * MAX_WORD]
    assert words("\"NEAR(*) OR 'a'") == ["near", "or", "a"]
    assert words(None) == []


def test_name_words_rank_before_summary_words_and_are_bounded() -> None:
    terms = project_terms("requests-toolbelt", "Tools for requests users")
    assert terms == {"requests": True, "toolbelt": True, "tools": False, "for": False,
                     "users": False}  # fmt: skip
    many = project_terms("x", " ".join(f"w{n}" for n in range(500)))
    assert len(many) == MAX_WORDS


def test_a_query_is_bounded() -> None:
    query = parse_query("a " * 1000)
    assert query.cut
    assert len(query.terms) <= MAX_TERMS
    assert len(query.text) <= MAX_QUERY
    assert parse_query(" ".join("abcdefgh")).terms == tuple("abcdef")
    assert not parse_query("flask login").cut


@pytest.mark.parametrize("term", ["a", "abc", "z", "é", "\ud7fe", "\U0010fffe"])
def test_upper_bound_is_above_every_word_the_term_begins(term: str) -> None:
    bound = upper_bound(term)
    for word in (term, term + "a", term + "\U0010ffff", term + "zzz"):
        assert term <= word < bound
    # And no more: a word the term does not begin is outside the range.
    assert not term[:-1] + chr(ord(term[-1]) + 1) < bound


def test_upper_bound_skips_the_surrogates() -> None:
    assert upper_bound("a\ud7ff") == "a\ue000"
    assert upper_bound("\U0010ffff") == "\U0010ffff\U0010ffff"


def test_rank_exact_then_whole_names_then_names_then_length() -> None:
    terms = ("requests",)
    names = ["requests-toolbelt", "requests", "xrequests", "aaa"]
    ranked = sorted(names, key=lambda n: rank(n, terms, exact=False))
    assert ranked == ["requests", "requests-toolbelt", "aaa", "xrequests"]
    assert sorted(names, key=lambda n: rank(n, terms, n == "aaa"))[0] == "aaa"
