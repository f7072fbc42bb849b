"""Pull-through upstreams: read another simple index (PyPI, pypiserver, another tufpi),
safely, for tufpi to mirror what it lists.

A package above ``index`` (names, filenames, digests) and below ``services``, which wires it
to settings; what it reads is mirrored into tufpi's database, storage and signed metadata
by the layers that own them.

- ``UpstreamFile``, ``UpstreamProject``: what a project page of an upstream says (``model``).
- ``UpstreamError``: the one error, naming the upstream and the cause (``errors``).
- ``Upstream``, ``Upstreams``, ``UpstreamBounds``, ``Digests``: reading one upstream or the
  configured list, bounded in time and bytes (``client``).
- ``mirror``, ``policy``: mirroring on demand (``Mirror``: a page before it is served, a file
  on its first download) and its pure decisions (dependency confusion, refresh, changes).
"""

from tufpi.upstream.client import Digests, Upstream, UpstreamBounds, Upstreams
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
    "policy",
]
