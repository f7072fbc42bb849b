"""PEP 691 content negotiation for the simple API (pure)."""

from __future__ import annotations

import dataclasses

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
}
# Server preference on ties, as PyPI orders them.
OFFERS = (JSON_V1, HTML_V1, TEXT_HTML)


@dataclasses.dataclass(frozen=True)
class _Range:
    media: str
    q: float

    def specificity(self, offer: str) -> int:
        """How closely this range matches ``offer`` (-1: not at all)."""
        if self.media == offer:
            return 3
        kind, _, _ = offer.partition("/")
        if self.media == f"{kind}/*":
            return 2
        if self.media == "*/*":
            return 1
        return -1


def _parse(accept: str) -> list[_Range]:
    ranges = []
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        media = media.lower()
        ranges.append(_Range(_ALIASES.get(media, media), q))
    return ranges


def choose(accept: str | None, format_param: str | None = None) -> str | None:
    """The representation to send, or None when nothing acceptable is offered (406).

    A ``?format=`` query parameter, as PyPI allows, overrides the header.
    """
    if format_param:
        wanted = _ALIASES.get(format_param.lower(), format_param.lower())
        return wanted if wanted in OFFERS else None
    if not accept or not accept.strip():
        return TEXT_HTML
    ranges = _parse(accept)
    best: tuple[float, int, int] | None = None
    chosen = None
    for position, offer in enumerate(OFFERS):
        matches = [(r.specificity(offer), r.q) for r in ranges if r.specificity(offer) >= 0]
        if not matches:
            continue
        specificity, q = max(matches)  # the most specific matching range decides
        if q <= 0:
            continue
        # Named types tie-break in server order (JSON first); a bare wildcard such as curl's
        # "*/*" gets plain HTML, what a client that names no simple API type understands.
        preference = -position if specificity == 3 else position
        rank = (q, specificity, preference)
        if best is None or rank > best:
            best, chosen = rank, offer
    return chosen
