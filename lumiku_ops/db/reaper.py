"""Stop an embedded server once the process that owns it is gone.

pgserver stops (and, for a throwaway server, deletes) a server from an ``atexit`` hook,
which never runs when its owner is killed (SIGKILL, or a notebook kernel shut down "now").
This small watchdog runs in its own session and waits for the owner to disappear. Then,
for a throwaway server, it stops the server and removes its folder; for a kept one (the
shadow server in the cache folder, ``--keep``), it stops the server only if no other live
process holds it, and keeps the folder. Run as
``python -m lumiku_ops.db.reaper PID FOLDER [--keep]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch(owner_pid: int, folder: Path, *, keep: bool = False) -> None:
    """Block until ``owner_pid`` exits, then stop the server in ``folder`` and delete it
    (``keep``: stop it only when nobody else holds it, and keep the folder)."""
    while _alive(owner_pid):
        time.sleep(POLL_S)
    pgdata = folder / "pgdata"
    if keep:
        _stop_if_unheld(pgdata, owner_pid)
        return
    if (pgdata / "postmaster.pid").exists():
        _stop(pgdata, "immediate")
    shutil.rmtree(folder, ignore_errors=True)


def _stop(pgdata: Path, mode: str) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-m", mode, "-w", "stop"], pgdata=pgdata, user=user, timeout=30)
    except (subprocess.SubprocessError, OSError):
        pass  # already stopped, or nothing we can do


def _stop_if_unheld(pgdata: Path, owner_pid: int) -> None:
    """Stop the kept server unless a live process other than ``owner_pid`` holds it,
    under pgserver's own lock, so that no process attaches between the check and the stop."""
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs and XDG_RUNTIME_DIR
        from pgserver.postgres_server import PostgresServer

    holders = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = json.loads(holders.read_text())
        except (OSError, ValueError):
            pids = []
        alive = [p for p in pids if isinstance(p, int) and p != owner_pid and _alive(p)]
        if alive or not (pgdata / "postmaster.pid").exists():
            return
        _stop(pgdata, "fast")
        try:
            holders.write_text("[]")
        except OSError:
            pass


def start_reaper(folder: Path, *, keep: bool = False) -> None:
    """Watch ``folder``'s server on behalf of this process, from a detached child."""
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lumiku_ops.db.reaper",
            str(os.getpid()),
            str(folder),
            *(["--keep"] if keep else []),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # survives the owner's process group being killed
        close_fds=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), Path(sys.argv[2]), keep="--keep" in sys.argv[3:])
