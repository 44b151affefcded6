"""Run the reference service under uvicorn."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.errors import ConfigError, LumikuOpsError
from lumiku_ops.reference.secrets import resolve_jwt_secret
from lumiku_ops.reference.worker import worker_in_background
from lumiku_ops.settings import Settings
from service.app import SETTINGS_ENV, create_app
from service.log import configure_logging
from service.removal import RemovalEngine
from service.settings import ServiceSettings, default_media_root, default_model_home


def service_settings(settings: Settings, *, log_file: Path | None = None) -> ServiceSettings:
    """The service's settings for ``settings``; the secret is checked before anything starts."""
    secret = resolve_jwt_secret(settings)
    try:
        return ServiceSettings(
            database_url=resolve_database_url(settings),
            jwt_secret=secret,
            migrations_dir=settings.migrations_dir,
            log_file=log_file,
            media_root=settings.media_root or default_media_root(),
            model_home=settings.model_home or default_model_home(),
        )
    except ValueError as exc:  # a malformed service variable, e.g. LUMIKU_RECOVERY_INTERVAL
        raise ConfigError(str(exc)) from None


def worker_settings(settings: Settings) -> ServiceSettings:
    """Settings for a batch worker: database, files and models; it signs no tokens."""
    return ServiceSettings(
        database_url=resolve_database_url(settings),
        jwt_secret="",
        migrations_dir=settings.migrations_dir,
        media_root=settings.media_root or default_media_root(),
        model_home=settings.model_home or default_model_home(),
    )


def ensure_port_free(host: str, port: int) -> None:
    """Fail early, with advice, when another process already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LumikuOpsError(
                f"cannot listen on {host}:{port} ({exc.strerror}); "
                "stop the other process or pass --port"
            ) from None


def run_service(
    config: ServiceSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: bool = True,
    processes: int = 1,
) -> None:
    """Serve the Background Remover API with ``config`` until interrupted.

    With ``worker`` (the default), a batch worker runs in this process, sharing its rembg
    sessions, and stops with it; without, run ``lumiku-ops worker`` elsewhere. With
    ``processes`` above 1, uvicorn runs that many API processes on the one port (each
    with its own pools and its own two heavy-removal slots) and this process supervises
    them and runs the batch worker.
    """
    ensure_port_free(host, port)
    configure_logging(config.log_file)
    engine = RemovalEngine(config.model_home)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }
    with contextlib.ExitStack() as stack:
        if worker:
            stack.enter_context(worker_in_background(config, engine=engine))
        if processes == 1:
            uvicorn.run(create_app(config, removal_engine=engine), **options)
            return
        # Spawned processes rebuild the app from the environment they inherit.
        os.environ[SETTINGS_ENV] = config.to_json()
        uvicorn.run("service.app:app_from_environment", factory=True, workers=processes, **options)
