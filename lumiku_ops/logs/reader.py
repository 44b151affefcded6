"""Bounded reading: the tail of a log, line by line, whatever its size or its bytes.

A production log can be many GiB: only its last ``max_bytes`` are read, by seeking, and
never more than one line (itself capped at ``MAX_LINE_BYTES``) is held at a time. Bytes
that are not UTF-8 are replaced, NUL bytes dropped, and a truncated last line is still
read, so a log that is being written or was cut short is evidence too.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from lumiku_ops.errors import ConfigError

STDIN = "-"
MIB = 1024 * 1024
DEFAULT_MAX_MIB = 64
MAX_LINE_BYTES = MIB  # a traceback line is ~10 KiB; longer lines keep their first MiB
MAX_MIB = 1024 * 1024  # 1 TiB: beyond any log, and still an exact number of bytes
_CHUNK = 64 * 1024


def check_max_mib(max_mib: float | str) -> int:
    """``max_mib`` as a number of bytes; ``ConfigError`` unless it is in (0, ``MAX_MIB``]."""
    if isinstance(max_mib, str):
        try:
            max_mib = float(max_mib)
        except ValueError:
            raise ConfigError(f"--log-max-mib takes a number of MiB, not {max_mib!r}") from None
    if isinstance(max_mib, bool) or not isinstance(max_mib, int | float):
        raise ConfigError(f"--log-max-mib takes a number of MiB, not {max_mib!r}")
    if not (math.isfinite(max_mib) and 0 < max_mib <= MAX_MIB):
        raise ConfigError(
            f"--log-max-mib must be more than 0 and at most {MAX_MIB} (1 TiB), not {max_mib}; "
            "e.g. --log-max-mib 64"
        )
    return max(1, int(max_mib * MIB))


def check_readable(source: str) -> None:
    """Raise ``ConfigError`` now, before any work, when ``source`` cannot be read.

    Only a regular file (or ``-``) is a log: ``/dev/zero`` never ends and a FIFO nobody
    writes to blocks, so neither is opened for reading at all.
    """
    if source == STDIN:
        return
    os.close(_open_regular(source))


def _open_regular(source: str) -> int:
    """A read-only descriptor on ``source``, which must be a regular file."""
    try:
        mode = os.stat(source).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"cannot read log file {source}: it is a folder")
        if not stat.S_ISREG(mode):
            raise ConfigError(_not_regular(source))
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening cannot hang.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(
            f"cannot read log file {source}: {exc.strerror or exc}; "
            "give a readable file, or - for standard input"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(_not_regular(source))
    return fd


def _not_regular(source: str) -> str:
    return (
        f"cannot read log file {source}: it is not a regular file (a device, FIFO or "
        "socket); give a log file, or - for standard input"
    )


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            return
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of an overlong line without holding it.
            while True:
                rest = stream.readline(_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def _decode(line: bytes) -> str:
    return line.replace(b"\x00", b"").decode("utf-8", errors="replace").rstrip("\r\n")


def read_lines(source: str, *, max_bytes: int = DEFAULT_MAX_MIB * MIB) -> Iterator[str]:
    """The lines of the last ``max_bytes`` of ``source`` (a path, or ``-`` for stdin).

    Raises:
        ConfigError: the file cannot be opened.
    """
    if source == STDIN:
        # A pipe cannot seek: every line streams through, one at a time.
        for line in _lines(sys.stdin.buffer):
            yield _decode(line)
        return
    with os.fdopen(_open_regular(source), "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        start = max(0, size - max_bytes)
        if start:
            stream.seek(start - 1)
            # Unless the window starts exactly on a line, its first line is a fragment.
            if stream.read(1) != b"\n":
                for _ in _lines(stream):
                    break
        for line in _lines(stream):
            yield _decode(line)
