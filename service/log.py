"""Structured logging: one JSON object per line, to stderr or a file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter


def configure_logging(log_file: Path | None = None, level: int = logging.INFO) -> None:
    """Send the service's and uvicorn's records, as JSON lines, to ``log_file`` or stderr."""
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            # The pid tells apart the API processes of ``serve --processes N``.
            "{asctime}{levelname}{name}{process}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            # uvicorn adds an ANSI-coloured copy of each message; it is noise in JSON.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )
    )
    for name in ("service", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
