"""The words search indexes and the terms a query asks for (pure).

A project is indexed under the words of its name (split at ``-``, ``_`` and ``.``, as
normalisation does) and of its summary: case-folded runs of letters and digits, at most
``MAX_WORD`` characters each and ``MAX_WORDS`` a project. A query is cut to
``MAX_QUERY`` characters and ``MAX_TERMS`` terms; each term matches the indexed words it
begins. Nothing of the query reaches the database but bound parameters, so there is no
query syntax to escape: quotes, ``*``, ``NEAR(`` are just not letters.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

MAX_WORD = 40
MAX_WORDS = 64
MAX_QUERY = 200
MAX_TERMS = 6
_WORD = re.compile(r"[^\W_]+")


def words(text: str | None) -> list[str]:
    """The distinct words of ``text``, in order: NFKC case-folded, each cut to MAX_WORD."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text).casefold()
    seen: dict[str, None] = {}
    for match in _WORD.finditer(folded):
        seen.setdefault(match.group()[:MAX_WORD], None)
    return list(seen)


def project_terms(name: str, summary: str | None) -> dict[str, bool]:
    """Each word a project is found by, True for the words of its name (they rank first)."""
    terms = dict.fromkeys(words(name), True)
    for word in words(summary):
        terms.setdefault(word, False)
    return dict(list(terms.items())[:MAX_WORDS])


@dataclasses.dataclass(frozen=True)
class Query:
    """A query as searched: its terms, and whether anything of it was left out."""

    text: str
    terms: tuple[str, ...]
    cut: bool


def parse_query(raw: str) -> Query:
    """The terms of a raw query string, bounded."""
    text = raw[:MAX_QUERY]
    found = words(text)
    cut = len(raw) > MAX_QUERY or len(found) > MAX_TERMS
    return Query(text.strip(), tuple(found[:MAX_TERMS]), cut)


def upper_bound(term: str) -> str:
    """The least string greater than every string that starts with ``term`` (code point
    order): a prefix search is the range ``term <= word < upper_bound(term)``."""
    last = ord(term[-1])
    if last >= 0x10FFFF:
        return term + "\U0010ffff"
    following = 0xE000 if last == 0xD7FF else last + 1  # skip the surrogates
    return term[:-1] + chr(following)


_NAME_SEPARATORS = re.compile(r"[-_.]+")


def name_words_of(name: str) -> list[str]:
    """The words of a project name: a valid name is ASCII letters, digits and ``-_.``, split
    here cheaply (ranking splits a thousand names a query); others as ``words`` does."""
    if name.isascii():
        return [w for w in _NAME_SEPARATORS.split(name.lower()) if w]
    return words(name)


def rank(name: str, terms: tuple[str, ...], exact: bool) -> tuple[int, int, int, int, str]:
    """Sort key of a hit: the exact name, then names made of the terms alone (each word of
    the name begun by a term), then names holding more of the terms, shorter names first,
    then alphabetical."""
    name_words = name_words_of(name)
    in_name = sum(1 for t in terms if any(w.startswith(t) for w in name_words))
    covered = all(any(w.startswith(t) for t in terms) for w in name_words)
    whole = int(bool(terms) and in_name == len(terms) and covered)
    return (-int(exact), -whole, -in_name, len(name), name.casefold())
