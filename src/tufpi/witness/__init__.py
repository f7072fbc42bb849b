"""``tufpi witness``: a C2SP tlog-witness (c2sp.org/tlog-witness) that cosigns a log's
checkpoints (c2sp.org/tlog-cosignature) once it has verified they extend the tree it saw
before, and never cosigns a fork or a rollback.

The protocol and the decision are pure (``tufpi.tlog.witness``); this package holds the key
file (``keyfile``), the state file (``state``) and the HTTP service (``app``).

Offered to other packages:

- ``Witness``, ``create_app``, ``logs_of``: the service;
- ``StateFile``, ``StateError``: the witness's state on disk;
- ``create_key``, ``load_key``, ``WitnessKeyError``: its key file.
"""

from tufpi.witness.app import Witness, create_app, logs_of
from tufpi.witness.keyfile import WitnessKeyError, create_key, load_key
from tufpi.witness.state import StateError, StateFile

__all__ = [
    "StateError",
    "StateFile",
    "Witness",
    "WitnessKeyError",
    "create_app",
    "create_key",
    "load_key",
    "logs_of",
]
