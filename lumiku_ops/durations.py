"""Durations as operators type them: ``5s``, ``500ms``, ``2m``, ``1h``, or plain seconds."""

from __future__ import annotations

import re

from lumiku_ops.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?\s*$")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``; a bare number means seconds.

    Raises:
        ConfigError: the text is not a non-negative duration.
    """
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _PATTERN.match(text)
        if match is None:
            raise ConfigError(f"'{text}' is not a duration; use e.g. 500ms, 5s, 2m or 1h")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 0:
        raise ConfigError(f"'{text}' is negative; durations must be zero or more")
    return seconds


def postgres_interval(seconds: float) -> str:
    """A value for ``SET lock_timeout`` / ``statement_timeout`` (milliseconds, ``0`` = off)."""
    return f"{round(seconds * 1000)}ms"
