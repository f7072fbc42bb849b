"""Pull-through upstreams: read another simple index (PyPI, pypiserver, another tufpi),
safely, for tufpi to mirror what it lists.

A package above ``index`` (names, filenames, digests) and below ``services``, which wires it
to settings; what it reads is mirrored into tufpi's database, storage and signed metadata
by the layers that own them.

- ``UpstreamFile``, ``UpstreamProject``: what a project page of an upstream says (``model``).
- ``UpstreamError``: the one error, naming the upstream and the cause (``errors``).
- ``Upstream``, ``Upstreams``, ``UpstreamBounds``, ``Digests``: reading one upstream or the
  configured list, bounded in time and bytes (``client``, over ``transfer``: one bounded
  request); ``split_credentials``: an index URL's userinfo taken out, as Basic auth.
- ``pages``: the pure parser of simple API pages (PEP 503 HTML, PEP 691 JSON, with PEP 592,
  658/714, 700, 708 and 740 fields), which ``tufpi import`` reads other indexes with too;
  ``listing`` (pure) decides which of a page's links may be taken.
- ``mirror``, ``policy``: mirroring on demand (``Mirror``: a page before it is served, a file
  on its first download) and its pure decisions (dependency confusion, refresh, changes).
"""

from tufpi.upstream import pages
from tufpi.upstream.client import Digests, Upstream, UpstreamBounds, Upstreams, split_credentials
from tufpi.upstream.errors import UpstreamError
from tufpi.upstream.model import UpstreamFile, UpstreamProject

__all__ = [
    "Digests",
    "Upstream",
    "UpstreamBounds",
    "UpstreamError",
    "UpstreamFile",
    "UpstreamProject",
    "Upstreams",
    "mirror",
    "pages",
    "policy",
    "split_credentials",
]
