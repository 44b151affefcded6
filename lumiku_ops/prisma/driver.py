"""One operation of Prisma's schema engine: ``engine.mjs`` run by Node, one JSON request on
stdin (database URLs included, never on a command line that ``ps`` shows), one JSON result
on stdout; the engine's failures become lumiku-ops errors, with secrets redacted."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lumiku_ops.errors import PrismaEngineError, PrismaSchemaError
from lumiku_ops.redaction import redact

# Shipped beside this module (package data), like the pins the install uses.
DRIVER = Path(__file__).resolve().parent / "engine.mjs"


def call(
    node: Path,
    home: Path,
    op: str,
    request: dict[str, Any],
    *,
    timeout: float,
    secrets: Iterable[str | None],
) -> dict[str, Any]:
    """Run ``op`` on the engine installed in ``home`` with ``node``; its result when ``ok``.

    Raises:
        PrismaEngineError: Node could not run, timed out, gave no answer, or the engine
            failed (its message redacted of ``secrets``).
        PrismaSchemaError: the schema is invalid (Prisma's P1012), with where it is.
    """
    payload = json.dumps({"op": op, **request})
    try:
        done = subprocess.run(
            [str(node), str(DRIVER), str(home)],
            input=payload,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PrismaEngineError(
            f"Prisma's schema engine did not finish {op} within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise PrismaEngineError(f"could not run {node}: {exc.strerror}") from None
    result = _result_of(done.stdout)
    if result is None:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise PrismaEngineError(
            f"Prisma's schema engine stopped without an answer to {op}: "
            + redact(last.strip(), secrets)
        )
    if not result.get("ok"):
        raise _engine_error(op, result, secrets)
    return result


def _result_of(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        return result if isinstance(result, dict) and "ok" in result else None
    return None


# "  -->  prisma/schema.prisma:12" under a schema error
_LOCATION = re.compile(r"^\s*-->\s+(?P<where>.+?:\d+)\s*$", re.MULTILINE)


def _engine_error(op: str, result: dict[str, Any], secrets: Iterable[str | None]) -> Exception:
    message = str(result.get("error") or "the schema engine failed")
    code = result.get("code") if isinstance(result.get("code"), str) else None
    suffix = f" ({code})" if code else ""
    if result.get("kind") == "request":
        return PrismaEngineError(f"lumiku-ops sent the schema engine a bad request: {message}")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if code == "P1012":
        # Prisma's schema errors: "error: WHAT", "  -->  FILE:LINE", then the source lines.
        problems = [
            line.removeprefix("error:").strip() for line in lines if line.startswith("error:")
        ]
        where = _LOCATION.search(message)
        first = (problems or lines or ["invalid schema"])[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        text = f"{where.group('where')}: {first}" if where else f"Prisma schema: {first}"
        return PrismaSchemaError(redact(f"{text}{more}{suffix}", secrets), code=code)
    # The first line says what failed; the last one, when there are more, says why (for a
    # migration that failed on the shadow database: PostgreSQL's own error).
    text = lines[0] if lines else "the schema engine failed"
    if len(lines) > 1 and lines[-1] != lines[0]:
        text = f"{text.rstrip('. ')}: {lines[-1]}"
    return PrismaEngineError(
        redact(f"Prisma's schema engine ({op}): {text}{suffix}", secrets), code=code
    )
