"""Script payloads for the web pages' injection tests: distributions whose every free-text
core metadata field carries one, in each markup a long description may be written in.

Each payload that would run script runs ``top.__pwned=N,alert(N)`` (no space, no quote: it
works in a script body, an unquoted attribute and a ``javascript:`` URL alike), so a test
sees it fire as a dialog whose message names which payload it was, and as ``__pwned``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from tests.support.demo import metadata_wheel


def js(n: int) -> str:
    """The script of payload ``n``."""
    return f"top.__pwned={n},alert({n})"


# HTML that a sanitiser must take apart: each line fires without one (in Chromium, with no
# click) unless noted. ``<details open ontoggle>`` and ``<input autofocus onfocus>`` fire on
# their own; the javascript: links fire when clicked.
HTML_PAYLOADS = f"""<script>{js(1)}</script>
<img src=x onerror={js(2)}>
<svg onload={js(3)}></svg>
<details open ontoggle={js(4)}><summary>details</summary>x</details>
<iframe srcdoc="<script>{js(5)}</script>"></iframe>
<a id="js-link" href="javascript:{js(6)}">an html javascript: link</a>
<a id="tab-link" href="jav&#x09;ascript:{js(7)}">a tab-split javascript: link</a>
<math><mtext><table><mglyph><style><img src=x onerror={js(8)}></style></mglyph></table>
</mtext></math>
<input autofocus onfocus={js(9)}>
<video><source onerror={js(10)}></video>
<object data="javascript:{js(11)}"></object>
<form action="javascript:{js(12)}"><button id="form-go">go</button></form>
<style>main {{ display: none }}</style>
<div style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</div>
"""

MARKDOWN = f"""# A hostile README <script>{js(20)}</script>

Some *markdown* with [a javascript: link](javascript:{js(21)}) and
[a data: link](data:text/html,<script>{js(22)}</script>) and
![an image](javascript:{js(23)}) and <https://example.org/safe>.

{HTML_PAYLOADS}
"""

RST = f"""A hostile README
================

Some *rst* with `a javascript: link <javascript:{js(30)}>`_.

.. raw:: html

   <script>{js(31)}</script>
   <img src=x onerror={js(32)}>

.. image:: javascript:{js(33)}

.. include:: /etc/passwd

Text with <script>{js(34)}</script> and <img src=x onerror={js(35)}> in it.
"""

PLAIN = f"""A plain README <script>{js(40)}</script>
<img src=x onerror={js(41)}> javascript:{js(42)}
"""

# One line fields (the header may not hold a newline).
INLINE = f"<script>{js(50)}</script><img src=x onerror={js(51)}>"
TEXT_FIELDS = {
    "Summary": f'A summary "><svg onload={js(52)}> {INLINE}',
    "Author": f"<img src=x onerror={js(53)}> Mallory",
    "Author-email": f'"<svg onload={js(54)}>" <mallory@example.org>',
    "Maintainer": f"<script>{js(55)}</script>",
    "Maintainer-email": f"mallory@example.org, <iframe src=javascript:{js(56)}>",
    "Keywords": f"<script>{js(57)}</script>,<img src=x onerror={js(58)}>",
    "License": f"<script>{js(59)}</script>",
    "Home-page": f"javascript:{js(60)}",
    "Download-URL": f"data:text/html,<script>{js(61)}</script>",
    "Platform": f"<svg onload={js(62)}>",
}
PROJECT_URLS = [
    f"Documentation, javascript:{js(63)}",
    f"Source, JaVaScRiPt:{js(64)}",
    f"Tracker, data:text/html,<script>{js(65)}</script>",
    f'Funding"><img src=x onerror={js(66)}>, https://example.org/"><svg onload={js(67)}>',
    "Homepage, https://example.org/safe",
]
CLASSIFIERS = [f"Framework :: <script>{js(70)}</script>", "Programming Language :: Python"]
REQUIRES_DIST = [
    f'anything; platform_release == "<img src=x onerror={js(71)}>"',
]
YANK_REASON = f'"><script>{js(80)}</script><img src=x onerror={js(81)}>'
# The uploader's name, shown beside each file and in the history: ``tufpi user add`` refuses
# it, so the test writes it into the database as an index older than that rule may hold it.
USER_NAME = f"<svg onload={js(84)}>"
TOKEN_DESCRIPTION = f'"><script>{js(82)}</script><img src=x onerror={js(83)}>'


@dataclasses.dataclass(frozen=True)
class Hostile:
    """One hostile project: its name and its long description's markup."""

    name: str
    content_type: str | None
    description: str


# Every markup a long description is rendered from (readme_renderer's choice by
# Description-Content-Type; none means reStructuredText).
HOSTILE = [
    Hostile("xss-markdown", "text/markdown", MARKDOWN),
    Hostile("xss-gfm", "text/markdown; charset=UTF-8; variant=GFM", MARKDOWN),
    Hostile("xss-commonmark", "text/markdown; variant=CommonMark", MARKDOWN),
    Hostile("xss-rst", "text/x-rst", RST),
    Hostile("xss-none", None, RST),
    Hostile("xss-plain", "text/plain", PLAIN),
]


def _headers(hostile: Hostile, version: str) -> Iterator[str]:
    yield "Metadata-Version: 2.1"
    yield f"Name: {hostile.name}"
    yield f"Version: {version}"
    for field, value in TEXT_FIELDS.items():
        yield f"{field}: {value}"
    yield from (f"Project-URL: {url}" for url in PROJECT_URLS)
    yield from (f"Classifier: {c}" for c in CLASSIFIERS)
    yield from (f"Requires-Dist: {r}" for r in REQUIRES_DIST)
    if hostile.content_type is not None:
        yield f"Description-Content-Type: {hostile.content_type}"


def metadata(hostile: Hostile, version: str = "1.0") -> bytes:
    """The core metadata of ``hostile``: every field with a payload, then the description
    as the message body."""
    return ("\n".join(_headers(hostile, version)) + "\n\n" + hostile.description).encode()


def wheel(hostile: Hostile, version: str = "1.0") -> tuple[str, bytes]:
    """A wheel of ``hostile``: (filename, bytes)."""
    return metadata_wheel(hostile.name, version, metadata(hostile, version))
