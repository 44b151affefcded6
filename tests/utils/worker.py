"""A batch worker as a real subprocess (``python -m lumiku_ops worker``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def start_worker(
    database_url: str, *, model_home: Path, media_root: Path, stalled_after: float = 2.0
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "U2NET_HOME": str(model_home), "LUMIKU_MEDIA_ROOT": str(media_root)}
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            *("-m", "lumiku_ops", "worker", "--database-url", database_url),
            *("--concurrency", "1", "--stalled-after", str(stalled_after)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], *, timeout: float = 90, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")
