"""The verifying client: only what the index's signed metadata vouches for comes out.

``verified_index`` is python-tuf's ngclient over one bounded ``fetcher`` (every byte the
client reads goes through it); ``proxy`` is the local simple index unmodified pip, uv and
poetry install through; ``running`` runs it in the foreground or for an installer that
``launch`` started first (before tuf, httpx and uvicorn are even imported);
``log_reader`` proves each file's entry in the index's transparency log before it is
handed out (``log_checks`` decides, ``log_cache`` keeps the checkpoint). The rest are their
parts (refusal wording, credentials, the trust anchor, what may be handed on).

``monitor`` follows the index's transparency log for ``tufpi monitor``: ``monitor_log``
reads and verifies the entries (its checkpoints and their growth with ``log_checks``, as
the client does), ``monitoring`` judges the entries against a watch list,
``monitor_state`` keeps the position and writes the metrics.

Offered to other packages (the CLI): ``running``, ``credentials``, ``exposure``, ``fetcher``,
``installers``, ``launch``, ``monitor``, ``monitor_log``, ``monitoring``, ``pins``,
``refusals``, ``settings``, ``text``, ``verified_index``; ``conformance`` is a program of its
own (``tufpi-conformance-client``).
"""

__all__ = [
    "conformance",
    "credentials",
    "exposure",
    "fetcher",
    "installers",
    "launch",
    "monitor",
    "monitor_log",
    "monitoring",
    "pins",
    "refusals",
    "running",
    "settings",
    "text",
    "verified_index",
]
