"""Log parsing at the reader's limits: a log of crafted worst-case lines vs an ordinary log.

It writes two logs of ``--mib`` MiB each (default 64, the default window of ``--log``) into
a temporary folder: one of the service's ordinary lines (requests, a 500's two records,
PostgreSQL server lines), and one of 1 MiB lines crafted against every pattern of the parser
and of the masking (``tests/utils/worst_cases.py``). A third log holds the same crafted
lines, each made an error the parser keeps (so its evidence is masked too). Each is read
with ``read_log_events`` ``--repeat`` times; the script prints the median seconds, MiB/s
and the ratio to the ordinary log. The headline is the worst ratio: parsing is linear in the
line when it stays a small constant (it was unbounded: one crafted 1 MiB line took minutes).

Usage (from the repository root)::

    .venv/bin/python bench/log_parsing.py [--mib 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO_ROOT))

from lumiku_ops.logs.linking import read_log_events  # noqa: E402
from lumiku_ops.logs.reader import MIB  # noqa: E402
from tests.utils.worst_cases import ordinary_lines, worst_lines  # noqa: E402

# Appended to a crafted line, this makes it an error the parser keeps (and masks).
AS_ERROR = ' ERROR:  relation "BackgroundRemovalJob" does not exist'


def write_log(path: Path, lines: list[str], size: int) -> int:
    """Write ``lines`` over and over until the file holds ``size`` bytes; the line count."""
    written = count = 0
    with path.open("w", encoding="utf-8") as stream:
        while written < size:
            line = lines[count % len(lines)]
            stream.write(line + "\n")
            written += len(line.encode()) + 1
            count += 1
    return count


def time_reading(path: Path, repeat: int, max_bytes: int) -> tuple[float, int]:
    """The median seconds ``read_log_events`` takes on ``path``, and the errors it found."""
    runs, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        events, _lines = read_log_events([str(path)], max_bytes=max_bytes)
        runs.append(time.perf_counter() - started)
        found = len(events)
    return statistics.median(runs), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="size of each log (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per log (default 3)")
    args = parser.parse_args()
    size = args.mib * MIB
    # One byte under 1 MiB with its newline: the longest line the reader hands over whole.
    crafted = list(worst_lines(MIB - 1 - len(AS_ERROR)).values())
    logs = {
        "ordinary": ordinary_lines(),
        "crafted": crafted,
        "crafted, each an error": [line + AS_ERROR for line in crafted],
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="lumiku-bench-logs-") as folder:
        for name, lines in logs.items():
            path = Path(folder) / f"{name.split(',')[0]}-{len(rows)}.log"
            count = write_log(path, lines, size)
            seconds, found = time_reading(path, args.repeat, size)
            rows.append((name, count, found, seconds))
            path.unlink()
    base = rows[0][3]
    print(f"{'log':<24} {'lines':>9} {'errors':>7} {'seconds':>8} {'MiB/s':>7} {'ratio':>6}")
    for name, count, found, seconds in rows:
        print(
            f"{name:<24} {count:>9} {found:>7} {seconds:>8.2f} "
            f"{args.mib / seconds:>7.1f} {seconds / base:>6.2f}"
        )
    worst = max(rows[1:], key=lambda row: row[3])
    print(
        f"headline: {args.mib} MiB of crafted lines ({worst[0]}) take {worst[3] / base:.2f}x "
        f"the time of {args.mib} MiB of ordinary lines ({worst[3]:.2f} s vs {base:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
