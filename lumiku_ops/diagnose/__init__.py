"""Why do the endpoints answer 500? Evidence, one verdict, and its remedy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Diagnosis", "diagnose"]

if TYPE_CHECKING:
    from lumiku_ops.diagnose.diagnosis import Diagnosis, diagnose


def __getattr__(name: str) -> Any:
    # Lazy, so importing lumiku_ops.diagnose.verdicts costs no database driver.
    if name in __all__:
        from lumiku_ops.diagnose import diagnosis

        return getattr(diagnosis, name)
    raise AttributeError(f"module 'lumiku_ops.diagnose' has no attribute {name!r}")
