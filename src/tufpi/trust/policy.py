"""Expiry and re-signing policy (pure): how long each role is valid, and when to re-sign."""

from __future__ import annotations

import dataclasses
import datetime as dt

DAY = dt.timedelta(days=1)
YEAR = dt.timedelta(days=365)


@dataclasses.dataclass(frozen=True)
class Policy:
    """PEP 458's defaults: offline roles for a year, online roles for a day.

    Attributes:
        offline_expiry: root, targets and bins.
        online_expiry: bin-n, snapshot and timestamp.
        resign_margin: re-sign an online role once less than this is left before it expires.
        sweep_grace: how long superseded versioned metadata stays after it stopped being current.
    """

    offline_expiry: dt.timedelta = YEAR
    online_expiry: dt.timedelta = DAY
    resign_margin: dt.timedelta = dt.timedelta(hours=6)
    sweep_grace: dt.timedelta = dt.timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.resign_margin >= self.online_expiry:
            raise ValueError("the re-sign margin must be shorter than the online expiry")

    def online_expires(self, now: dt.datetime) -> dt.datetime:
        return _whole_seconds(now + self.online_expiry)

    def offline_expires(self, now: dt.datetime) -> dt.datetime:
        return _whole_seconds(now + self.offline_expiry)

    def is_due(self, expires: dt.datetime, now: dt.datetime) -> bool:
        """Whether a role expiring at ``expires`` must be re-signed at ``now``."""
        return aware(expires) - self.resign_margin <= now


def _whole_seconds(moment: dt.datetime) -> dt.datetime:
    # TUF expiry strings carry no fractions of a second.
    return moment.replace(microsecond=0)


def aware(moment: dt.datetime) -> dt.datetime:
    """Datetimes read back from SQLite are naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
