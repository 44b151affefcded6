"""The reference wing: everything that needs the reference service (``service/``).

Serve, worker, token, models install and the demo live here, and only here may a module
import ``service``. The core (diagnose, migrate, verify, check, runbooks) never does, so
it installs and runs without FastAPI, rembg or Pillow (``pip install lumiku-ops``), while
these commands need ``lumiku-ops[reference]`` and a checkout of the repository.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lumiku_ops.errors import ConfigError
from lumiku_ops.project_code import prepend_to_sys_path


def require_reference(project_dir: Path) -> None:
    """Make ``service`` importable from ``project_dir``, or say what is missing.

    Raises:
        ConfigError: the reference service or its extra dependencies are not there.
    """
    prepend_to_sys_path(project_dir)
    if importlib.util.find_spec("service") is None:
        raise ConfigError(
            f"the reference service (service/) is not in {project_dir}: run this command "
            "from a checkout of the lumiku-ops repository (or set LUMIKU_PROJECT to one)"
        )
    missing = [
        name for name in ("fastapi", "rembg", "PIL") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ConfigError(
            f"the reference service needs {', '.join(missing)}: pip install 'lumiku-ops[reference]'"
        )
