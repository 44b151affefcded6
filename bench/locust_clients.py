"""The locust users both load benchmarks run (``locust --headless -f bench/locust_clients.py``).

Not run by hand: ``api_latency.py`` and ``migrate_under_load.py`` start locust on it with a
plan in the ``LUMIKU_BENCH_PLAN`` environment variable (a JSON file), and read back every
request it sent from the plan's ``samples`` file. The plan says:

* ``paths``: the paths to request, in turn (each user starts at a different one);
* ``token``: the bearer token sent with each request;
* ``per_user_rate``: requests per second each user sends, so the offered load is
  ``users x per_user_rate``;
* ``offsets``: when each user sends its first request (seconds after it starts, within
  one interval). Each user then keeps a timetable of its own, one request every
  ``1 / per_user_rate`` seconds, skipping the slots a slow answer made it miss.
  (Locust's ``constant_throughput`` paces each user after its last request instead:
  users that start together, or that one slow answer delays together, stay in step, and
  30 to 80 requests then arrived within the same 10 ms.)
* ``max_requests_per_user``: a user stops after this many requests, so a run is bounded in
  count as well as by locust's ``--run-time``;
* ``samples``: where every request is written, one JSON array per line:
  ``[wall-clock start, path, milliseconds, ok, status]``.

Only ``127.0.0.1`` is accepted as the host.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

PLAN: dict[str, Any] = json.loads(Path(os.environ["LUMIKU_BENCH_PLAN"]).read_text())
SAMPLES: list[tuple[float, str, float, bool, int]] = []
_user_numbers = itertools.count()


@events.init.add_listener
def _only_loopback(environment: Any, **_: Any) -> None:
    host = urlsplit(environment.host or "").hostname
    if host != "127.0.0.1":
        raise SystemExit(f"refusing to load {host!r}: these benchmarks only target 127.0.0.1")


@events.request.add_listener
def _record(
    name: str,
    response_time: float,
    response: Any,
    exception: BaseException | None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    started = start_time if start_time is not None else time.time() - response_time / 1000
    SAMPLES.append((started, name, response_time, exception is None, status))


@events.quitting.add_listener
def _write_samples(**_: Any) -> None:
    with open(PLAN["samples"], "w") as out:
        for sample in SAMPLES:
            out.write(json.dumps(sample) + "\n")


class ApiClient(FastHttpUser):
    """One client: a keep-alive connection, the plan's paths in turn, on its own timetable."""

    interval = 1.0 / float(PLAN["per_user_rate"])

    def wait_time(self) -> float:
        """Seconds until this user's next free slot in its timetable."""
        now = time.monotonic()
        self.slot = max(self.slot + 1, math.ceil((now - self.first) / self.interval))
        return max(0.0, self.first + self.slot * self.interval - now)

    def on_start(self) -> None:
        number = next(_user_numbers)
        offsets: list[float] = PLAN["offsets"]
        gevent.sleep(offsets[number % len(offsets)])
        self.first, self.slot = time.monotonic(), 0
        paths: list[str] = PLAN["paths"]
        self.paths = itertools.islice(itertools.cycle(paths), number % len(paths), None)
        self.left = int(PLAN["max_requests_per_user"])
        self.headers = {"Authorization": f"Bearer {PLAN['token']}"}

    @task
    def request(self) -> None:
        if self.left <= 0:
            raise StopUser()
        self.left -= 1
        path = next(self.paths)
        name = PLAN.get("names", {}).get(path, path)
        self.client.get(path, headers=self.headers, name=name)
