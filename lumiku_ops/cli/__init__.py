"""The ``lumiku-ops`` command line: parse, make one library call, render, pick an exit code.

Exit codes: 0 all good, 3 a check failed or a problem was found, 1 usage or runtime error.
Each noun has its module; importing it registers its commands on the group.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from lumiku_ops.cli import (
    diagnose,  # noqa: F401  (each module registers its commands)
    models,  # noqa: F401
    service,  # noqa: F401
    worker,  # noqa: F401
    verify,  # noqa: F401
)
from lumiku_ops.cli.base import EXIT_ERROR, EXIT_OK, cli
from lumiku_ops.errors import LumikuOpsError

__all__ = ["cli", "main"]


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds normally, so atexit hooks (which stop the embedded PostgreSQL) run;
    # the default SIGTERM action would kill the process and leave the server behind.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one ``error:`` line and exit code 1, never a traceback."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="lumiku-ops", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except LumikuOpsError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
