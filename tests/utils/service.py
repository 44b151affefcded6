"""The reference service as a real subprocess (``python -m lumiku_ops serve``), over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lumiku_ops.service_process import free_port

__all__ = ["RunningService", "free_port", "start_service"]


@dataclass
class RunningService:
    """A started service: its base URL, its JSON-lines log, and the process."""

    base_url: str
    log_file: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self.base_url + path, headers=headers, timeout=10)

    def post(
        self, path: str, token: str | None = None, *, timeout: float = 60, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(self.base_url + path, headers=headers, timeout=timeout, **kwargs)

    def delete(self, path: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.delete(self.base_url + path, headers=headers, timeout=10, **kwargs)

    def log_records(self) -> list[dict[str, Any]]:
        lines = self.log_file.read_text().splitlines() if self.log_file.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    database_url: str,
    *,
    jwt_secret: str,
    log_file: Path,
    extra_env: dict[str, str] | None = None,
    worker: bool = True,
) -> RunningService:
    """Start ``lumiku-ops serve`` and wait until ``/health`` answers."""
    port = free_port()
    env = {**os.environ, "LUMIKU_JWT_SECRET": jwt_secret, **(extra_env or {})}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lumiku_ops",
            "serve",
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--log-file",
            str(log_file),
            *([] if worker else ["--no-worker"]),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(f"service exited with {process.returncode}: {err.decode()}")
        try:
            if requests.get(base_url + "/health", timeout=1).status_code == 200:
                return RunningService(base_url=base_url, log_file=log_file, process=process)
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("service did not answer /health within 30 s")
