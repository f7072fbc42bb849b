"""TUF metadata logic (PEP 458) on python-tuf's Metadata API: what is signed, by which key,
in which role, and in which order it is written. No process, no HTTP: the signer process
(``tufpi.signer``), the web app and the CLI call into it.

Offered to other packages (modules):

- ``roles``, ``policy``, ``layout``: role names, key sets and thresholds; expiry and
  intervals; where each metadata file lives in storage;
- ``bins``, ``plan``, ``bulk``: hashed bins, what one publication re-signs, signing many
  bins in worker processes;
- ``changes``, ``log``, ``state``: target changes recorded in the caller's transaction, the
  transaction log, role state (versions, what is due);
- ``publisher``, ``store``, ``status``: publishing bin-n, snapshot, timestamp; the metadata
  files in storage; each role's version and expiry;
- ``init``, ``ceremony``, ``offline``, ``rotation``, ``recovery``: the first metadata, key
  ceremonies for the offline roles, online-key rotation and recovery from a leak;
- ``errors``: ``NotInitialised``.
"""

__all__ = [
    "bins",
    "bulk",
    "ceremony",
    "changes",
    "errors",
    "init",
    "layout",
    "log",
    "offline",
    "plan",
    "policy",
    "publisher",
    "recovery",
    "roles",
    "rotation",
    "state",
    "status",
    "store",
]
