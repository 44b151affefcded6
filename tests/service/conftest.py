"""Fixtures for the removal service: the installed u2netp model and a running service."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lumiku_ops.reference.models_install import install_model
from service.settings import default_model_home
from tests.conftest import JWT_SECRET
from tests.utils.db import upgrade
from tests.utils.service import RunningService, start_service


@pytest.fixture(scope="session")
def model_home() -> Path:
    """rembg's model folder with u2netp installed (the real model, not a stand-in)."""
    import os

    home = Path(os.environ.get("U2NET_HOME") or default_model_home())
    install_model("u2netp", model_home=home)
    return home


@pytest.fixture(scope="session")
def matting_compiled() -> None:
    """pymatting's numba functions compiled into numba's cache, once per environment.

    On a new environment their first import compiles for more than a minute
    (``service/removal.py``); a service paying that inside a request outlives the tests'
    60 s timeouts. Later imports read the cache in seconds.
    """
    subprocess.run([sys.executable, "-c", "import rembg.bg"], check=True, timeout=900)


@pytest.fixture
def start_remover(
    tmp_path: Path, model_home: Path, matting_compiled: None
) -> Iterator[Callable[..., RunningService]]:
    """Start ``lumiku-ops serve`` on a migrated database, with its own media folder."""
    started: list[RunningService] = []

    def start(database_url: str, *, worker: bool = True, **env: str) -> RunningService:
        upgrade(database_url, "head")
        service = start_service(
            database_url,
            jwt_secret=JWT_SECRET,
            log_file=tmp_path / f"service{len(started)}.log",
            extra_env={
                "U2NET_HOME": str(model_home),
                "LUMIKU_MEDIA_ROOT": str(tmp_path / "media"),
                **env,
            },
            worker=worker,
        )
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
