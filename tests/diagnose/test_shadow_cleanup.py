"""The shadow server never outlives its owner, even one killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

START_SHADOW = """
from lumiku_ops.db.scratch import shadow_server
print(shadow_server().data_dir, flush=True)
import time
time.sleep(60)
"""


def servers_on(pgdata: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"]
        and "postgres" in p.info["cmdline"][0]
        and str(pgdata) in " ".join(p.info["cmdline"])
    ]


def test_a_killed_owner_leaves_no_shadow_server_and_no_folder() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", START_SHADOW], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    pgdata = Path(owner.stdout.readline().strip())
    assert servers_on(pgdata), "the shadow server did not start"
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (servers_on(pgdata) or pgdata.parent.exists()):
        time.sleep(0.2)
    assert servers_on(pgdata) == []
    assert not pgdata.parent.exists()
