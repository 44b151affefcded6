"""What the load benchmarks share: locust as a bounded subprocess, percentiles, tables."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCUSTFILE = Path(__file__).resolve().parent / "locust_clients.py"


@dataclass(frozen=True)
class Sample:
    """One request: when it started (epoch seconds), what, how long (ms), and its outcome."""

    started: float
    name: str
    ms: float
    ok: bool
    status: int


def start_offsets(clients: int, interval_s: float, seed: int = 20261123) -> list[float]:
    """When each client sends its first request, within the first interval (seeded).

    Independent clients are not in step: each gets a random phase, so their requests
    superpose into a steady, Poisson-like stream rather than arriving together. Both the
    HTTP clients and the raw psycopg clients use these same offsets.
    """
    rng = random.Random(seed)
    return [rng.uniform(0.0, interval_s) for _ in range(clients)]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def run_locust(
    host: str,
    *,
    paths: list[str],
    token: str,
    users: int,
    per_user_rate: float,
    run_time_s: int,
    max_requests_per_user: int,
    names: dict[str, str] | None = None,
) -> list[Sample]:
    """Run locust headless against ``host`` (127.0.0.1 only) and return every request.

    Bounded twice: locust's ``--run-time`` and a per-user request count; the subprocess
    is killed if it outlives both by a minute.
    """
    if not host.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing to load {host}: only http://127.0.0.1 is allowed")
    with tempfile.TemporaryDirectory(prefix="lumiku-locust-") as folder:
        plan_file, samples_file = Path(folder) / "plan.json", Path(folder) / "samples.jsonl"
        plan: dict[str, Any] = {
            "offsets": start_offsets(users, 1.0 / per_user_rate),
            "paths": paths,
            "token": token,
            "per_user_rate": per_user_rate,
            "max_requests_per_user": max_requests_per_user,
            "samples": str(samples_file),
            "names": names or {},
        }
        plan_file.write_text(json.dumps(plan))
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--host",
            host,
            "--users",
            str(users),
            # All users start at once; each then waits for its own offset (the plan's
            # ``offsets``) and keeps its own timetable, so requests do not come in bursts.
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{run_time_s}s",
            "--stop-timeout",
            "5",
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "ERROR",
        ]
        env = {**os.environ, "LUMIKU_BENCH_PLAN": str(plan_file)}
        result = subprocess.run(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=run_time_s + 60,
            check=False,
        )
        if result.returncode != 0 or not samples_file.exists():
            raise RuntimeError(f"locust failed ({result.returncode}): {result.stderr[-2000:]}")
        rows = [json.loads(line) for line in samples_file.read_text().splitlines() if line]
    return [Sample(*row) for row in rows]


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, columns padded, numbers right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(row):
            numeric = cell.replace(".", "", 1).replace("-", "", 1).isdigit()
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
