"""The reference service as a real subprocess (``python -m lumiku_ops serve``), over HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lumiku_ops.reference.service_process import free_port, start_service_process

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
    processes: int = 1,
) -> RunningService:
    """Start ``lumiku-ops serve`` and wait until ``/health`` answers."""
    started = start_service_process(
        database_url,
        jwt_secret=jwt_secret,
        log_file=log_file,
        timeout_s=30,
        worker=worker,
        processes=processes,
        extra_env=extra_env,
    )
    return RunningService(base_url=started.base_url, log_file=log_file, process=started.process)
