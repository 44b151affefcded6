"""Running ``lumiku-ops`` as an operator would: a subprocess, its exit code and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = {"DATABASE_URL", "LUMIKU_JWT_SECRET", "LUMIKU_TOKEN", "LUMIKU_API_URL"}


def lumiku(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lumiku_ops ARGS`` with a clean environment plus ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "lumiku_ops", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def popen(*args: str, **env: str) -> subprocess.Popen[str]:
    """Start ``python -m lumiku_ops ARGS`` in the background."""
    environ = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    environ.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "lumiku_ops", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=REPO_ROOT,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The command's JSON result; a failure shows everything the command printed."""
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        data = {}
    if not isinstance(data, dict) or not data:
        pytest.fail(
            f"exit {result.returncode}, no JSON object on stdout\n"
            f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
        )
    return data
