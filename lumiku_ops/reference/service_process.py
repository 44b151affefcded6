"""The reference service as a child process: started, waited for, and always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from lumiku_ops.errors import LumikuOpsError


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    """A running ``lumiku-ops serve``."""

    base_url: str
    log_file: Path
    process: subprocess.Popen[bytes]

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop it gracefully (SIGTERM), then for good."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service_process(
    database_url: str,
    *,
    jwt_secret: str,
    log_file: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout_s: float = 60.0,
    worker: bool = True,
    processes: int = 1,
    extra_env: dict[str, str] | None = None,
) -> ServiceProcess:
    """Start ``lumiku-ops serve`` and wait until ``/health`` answers.

    Raises:
        LumikuOpsError: it exited or did not answer in time (with its log's tail).
    """
    port = port or free_port(host)
    # Secrets go through the environment: a command line is visible in ps to every user.
    env = {
        **os.environ,
        "LUMIKU_JWT_SECRET": jwt_secret,
        "DATABASE_URL": database_url,
        **(extra_env or {}),
    }
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # What serve says before its JSON log exists (a refused secret, say) lands here.
    stderr_file = log_file.with_name(log_file.name + ".stderr")
    command = [
        sys.executable,
        "-m",
        "lumiku_ops",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--log-file",
        str(log_file),
    ]
    with stderr_file.open("wb") as stderr:
        process = subprocess.Popen(
            command + ([] if worker else ["--no-worker"]) + ["--processes", str(processes)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    service = ServiceProcess(f"http://{host}:{port}", log_file, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(service.base_url + "/health", timeout=1).status_code == 200:
                return service
        except requests.RequestException:
            pass
        time.sleep(0.1)
    service.stop()
    tail = (stderr_file.read_text() + (log_file.read_text() if log_file.exists() else ""))[-800:]
    raise LumikuOpsError(f"the service did not start (see {log_file}): {tail}")
