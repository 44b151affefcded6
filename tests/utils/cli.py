"""Running ``lumiku-ops`` as an operator would: a subprocess, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
