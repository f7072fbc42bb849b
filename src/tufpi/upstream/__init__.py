"""Pull-through upstreams: read another simple index (PyPI, pypiserver, another tufpi),
safely, for tufpi to mirror what it lists.

A package above ``index`` (names, filenames, digests) and below ``services``, which wires it
to settings; what it reads is mirrored into tufpi's database, storage and signed metadata
by the layers that own them.

- ``UpstreamFile``, ``UpstreamProject``: what a project page of an upstream says (``model``).
- ``UpstreamError``: the one error, naming the upstream and the cause (``errors``).
- ``Upstream``, ``Upstreams``, ``UpstreamBounds``, ``Digests``: reading one upstream or the
  configured list, bounded in time and bytes (``client``, over ``transfer``: one bounded
  request); ``Upstream.page`` and ``Upstream.fetch`` read any page or file of an index so
  (``PageBody``, ``Received``), for ``tufpi import``; ``split_credentials``: an index URL's
  userinfo taken out, as Basic auth.
- ``pages``: the pure parser of simple API pages (PEP 503 HTML, PEP 691 JSON, with PEP 592,
  658/714, 700, 708 and 740 fields), which ``tufpi import`` reads other indexes with too;
  ``listing`` (pure) decides which of a page's links may be taken (``conflicting``: a
  filename listed with different hashes is taken from no entry; the importer applies it too).
- ``mirror``, ``policy``: mirroring on demand (``Mirror``: a page before it is served, a file
  on its first download) and its pure decisions (dependency confusion, refresh, changes).
"""

from tufpi.upstream import listing, pages
from tufpi.upstream.client import Digests, Upstream, UpstreamBounds, Upstreams, split_credentials
from tufpi.upstream.errors import UpstreamError
from tufpi.upstream.model import PageBody, Received, UpstreamFile, UpstreamProject

__all__ = [
    "Digests",
    "PageBody",
    "Received",
    "Upstream",
    "UpstreamBounds",
    "UpstreamError",
    "UpstreamFile",
    "UpstreamProject",
    "Upstreams",
    "listing",
    "mirror",
    "pages",
    "policy",
    "split_credentials",
]
