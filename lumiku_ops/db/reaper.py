"""Stop a throwaway embedded server once the process that owns it is gone.

pgserver stops and deletes a throwaway server from an ``atexit`` hook, which never runs
when its owner is killed (SIGKILL, or a notebook kernel shut down "now"). This small
watchdog runs in its own session, waits for the owner to disappear, then stops the server
if it still runs and removes its folder. Run as ``python -m lumiku_ops.db.reaper PID FOLDER``.
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


def watch(owner_pid: int, folder: Path) -> None:
    """Block until ``owner_pid`` exits, then stop the server in ``folder`` and delete it."""
    while _alive(owner_pid):
        time.sleep(POLL_S)
    pgdata = folder / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=pgdata, user=user, timeout=30)
        except (subprocess.SubprocessError, OSError):
            pass  # already stopped, or nothing we can do; the folder still goes
    shutil.rmtree(folder, ignore_errors=True)


def start_reaper(folder: Path) -> None:
    """Watch ``folder``'s server on behalf of this process, from a detached child."""
    subprocess.Popen(
        [sys.executable, "-m", "lumiku_ops.db.reaper", str(os.getpid()), str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # survives the owner's process group being killed
        close_fds=True,
    )


if __name__ == "__main__":
    watch(int(sys.argv[1]), Path(sys.argv[2]))
