"""The reference service's settings, built by the caller (the CLI or a test)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_model_home() -> Path:
    """rembg's own default model folder, used when ``U2NET_HOME`` is not set."""
    return Path.home() / ".u2net"


def default_media_root() -> Path:
    """Where uploads, outputs, thumbnails and ZIPs go by default (git-ignored)."""
    return REPO_ROOT / ".lumiku" / "media"


DEFAULT_RECOVERY_INTERVAL_S = 60.0


def default_recovery_interval() -> float:
    """Seconds between recovery sweeps: ``LUMIKU_RECOVERY_INTERVAL`` or 60.

    Read when the settings are built, never at import time.
    """
    raw = os.environ.get("LUMIKU_RECOVERY_INTERVAL", "")
    try:
        value = float(raw) if raw else DEFAULT_RECOVERY_INTERVAL_S
    except ValueError:
        raise ValueError(
            f"LUMIKU_RECOVERY_INTERVAL must be a number of seconds, not {raw!r}"
        ) from None
    if not 0 < value <= 86_400:
        raise ValueError("LUMIKU_RECOVERY_INTERVAL must be between 0 and 86400 seconds")
    return value


DEFAULT_BODY_TIMEOUT_S = 300.0


def default_body_timeout() -> float:
    """Seconds a request body may take to arrive: ``LUMIKU_BODY_TIMEOUT_S`` or 300.

    Five minutes carry the 256 MiB batch limit at 1 MiB/s. Read when the settings are
    built, never at import time.
    """
    raw = os.environ.get("LUMIKU_BODY_TIMEOUT_S", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_BODY_TIMEOUT_S
    except ValueError:
        raise ValueError(
            f"LUMIKU_BODY_TIMEOUT_S must be a number of seconds, not {raw!r}"
        ) from None
    if not 0 < value <= 86_400:
        raise ValueError("LUMIKU_BODY_TIMEOUT_S must be between 0 and 86400 seconds")
    return value


def heavy_slots_from_env() -> int:
    """``LUMIKU_HEAVY_REMOVALS``: heavy removals one process runs at once (default 2).

    Two, for two cores: alpha matting is CPU-bound, so more only adds memory.
    """
    raw = os.environ.get("LUMIKU_HEAVY_REMOVALS", "").strip()
    return max(1, int(raw)) if raw else 2


def heavy_removal_wait_from_env() -> float:
    """``LUMIKU_HEAVY_REMOVAL_WAIT``: seconds a removal waits for a heavy slot (default 10)."""
    raw = os.environ.get("LUMIKU_HEAVY_REMOVAL_WAIT", "").strip()
    return max(0.0, float(raw)) if raw else 10.0


@dataclass(frozen=True)
class ServiceSettings:
    """What the service needs: a database, a signing secret, migrations, files and models.

    ``media_root`` holds the files behind ``/storage/...`` URLs; ``model_home`` is
    rembg's model folder (``U2NET_HOME``). Worker timings apply to batch workers.
    ``recovery_interval_s`` is how often the service looks for removals abandoned by a
    process that died (it also looks once at start-up).
    ``heavy_removal_wait_s`` is how long ``POST /remove`` waits for one of the process's
    heavy-removal slots (``RemovalEngine.heavy_slots``) before answering 503.
    ``body_timeout_s`` bounds the time a request body may take to arrive (then 408).
    """

    database_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    migrations_dir: Path = REPO_ROOT / "migrations"
    log_file: Path | None = None
    media_root: Path = field(default_factory=default_media_root)
    model_home: Path = field(default_factory=default_model_home)
    recovery_interval_s: float = field(default_factory=default_recovery_interval)
    heavy_removal_wait_s: float = field(default_factory=heavy_removal_wait_from_env)
    body_timeout_s: float = field(default_factory=default_body_timeout)

    def to_json(self) -> str:
        """These settings as JSON, secrets included: for the service's own worker processes."""
        return json.dumps({key: _plain(value) for key, value in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> ServiceSettings:
        """The settings :meth:`to_json` wrote."""
        raw = json.loads(text)
        for key in ("migrations_dir", "media_root", "model_home", "log_file"):
            if raw.get(key) is not None:
                raw[key] = Path(raw[key])
        return cls(**raw)


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Path) else value
