"""The signer process: the one writer of TUF metadata, elected, supervised, stoppable.

A layer above ``tufpi.trust`` (which holds the metadata logic it runs, and never imports this
package):

- ``loop``: ``sign_until_stopped``, the loop of ``tufpi signer``: become the active signer,
  publish pending changes in batches, keep the online roles fresh, sweep;
- ``election``: ``leadership``, the database lock that makes exactly one signer active; any
  other command that publishes (``trust publish``, an import, a recovery) holds it too;
- ``child``: ``tufpi serve``'s signer as a supervised child process (``running``, what the
  web app's lifespan enters) and the child's reports to it (``notify_ready``,
  ``notify_standby``);
- ``signals``: stopping on SIGTERM/SIGINT and with the parent, with no lock taken in a
  signal handler (``stop_on_signals``, ``exit_with_parent``).
"""

from tufpi.signer.child import SignerStartFailed, notify_ready, notify_standby, running
from tufpi.signer.election import LeadershipLost, Lease, leadership
from tufpi.signer.loop import sign_until_stopped
from tufpi.signer.signals import exit_with_parent, stop_on_signals

__all__ = [
    "LeadershipLost",
    "Lease",
    "SignerStartFailed",
    "exit_with_parent",
    "leadership",
    "notify_ready",
    "notify_standby",
    "running",
    "sign_until_stopped",
    "stop_on_signals",
]
