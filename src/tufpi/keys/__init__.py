"""Keys: key material only. Key files (``keyfiles``), the development key set's files
(``dev``), loading the online key by URI (``online``), the transparency log's key
(``logkey``); what the keys sign and how ceremonies combine their signatures is
tufpi.trust's."""

from tufpi.keys.logkey import LogKeyError, load_log_key, load_or_create_log_key
from tufpi.keys.online import OnlineKeyError, load_signer, public_key

__all__ = [
    "LogKeyError",
    "OnlineKeyError",
    "dev",
    "keyfiles",
    "load_log_key",
    "load_or_create_log_key",
    "load_signer",
    "logkey",
    "online",
    "public_key",
]
