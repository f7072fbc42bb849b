"""Progress lines of long work when standard error is not a terminal (tufpi.cli.progress)."""

from __future__ import annotations

import io

from tufpi.cli.progress import PlainProgress, progress_line


def test_line_has_count_share_rate_and_time_left() -> None:
    line = progress_line("signing bins", 4096, 16384, 4.0)
    assert line == "signing bins: 4,096 of 16,384 (25%), 1,024/s, about 12 s left"
    assert progress_line("signing bins", 16384, 16384, 16.0) == (
        "signing bins: 16,384 of 16,384 (100%), 1,024/s"
    )
    assert progress_line("signing bins", 0, 16384, 0.0) == "signing bins: 0 of 16,384 (0%)"


def test_plain_progress_writes_once_an_interval_and_at_the_end() -> None:
    now = [0.0]
    out = io.StringIO()
    plain = PlainProgress("bins", 100, out, interval=5.0, clock=lambda: now[0])
    for _ in range(40):  # 40 bins in 4 s: no line until the interval has passed
        now[0] += 0.1
        plain.advance(1)
    now[0] += 1.0
    plain.advance(10)  # 5 s: a line
    for _ in range(50):
        plain.advance(1)  # the total: a line
    lines = out.getvalue().splitlines()
    assert [line.split(":")[1].split(" of ")[0].strip() for line in lines] == ["0", "50", "100"]
