"""The cache folder's files: JSON written atomically, read back or nothing.

Everything kept there is an optimisation: a file that cannot be read is a cache miss, and
one that cannot be written only costs time, never an error.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from lumiku_ops.settings import user_cache_dir


def cache_folder(cache_dir: Path | None) -> Path:
    """``cache_dir``, else the user's cache folder (``LUMIKU_CACHE_DIR``)."""
    return cache_dir or user_cache_dir()


def load(path: Path) -> Any:
    """The JSON document at ``path``, or ``None`` if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def store(path: Path, data: Any) -> None:
    """Write ``data`` as JSON at ``path``, atomically (a concurrent reader never sees half
    a file); a folder that cannot be written is ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)
    except OSError:
        pass
