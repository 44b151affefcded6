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
    check,  # noqa: F401  (each module registers its commands)
    diagnose,  # noqa: F401
    migrate,  # noqa: F401
    models,  # noqa: F401
    prisma,  # noqa: F401
    report,  # noqa: F401
    runbook,  # noqa: F401
    service,  # noqa: F401
    verify,  # noqa: F401
    worker,  # noqa: F401
)
from lumiku_ops.cli.base import EXIT_ERROR, EXIT_OK, cli
from lumiku_ops.errors import LumikuOpsError, database_reason

__all__ = ["cli", "main"]


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds normally, so atexit hooks (which stop the embedded PostgreSQL) run;
    # the default SIGTERM action would kill the process and leave the server behind.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one ``error:`` line and exit code 1, never a traceback.

    ``--traceback`` anywhere on the command line re-raises instead (alembic's --raiseerr).
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    args = [arg for arg in args if arg != "--traceback"]
    try:
        code = cli.main(args=args, prog_name="lumiku-ops", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return EXIT_ERROR
    except Exception as exc:
        if show_traceback or not _reportable(exc):
            raise
        click.echo(f"error: {_describe(exc)}", err=True)
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK


def _reportable(exc: Exception) -> bool:
    # Alembic and SQLAlchemy are imported only if a command used them (they are by then).
    if isinstance(exc, LumikuOpsError):
        return True
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, CommandError | RevisionError | SQLAlchemyError)


def _describe(exc: Exception) -> str:
    if isinstance(exc, LumikuOpsError):
        return str(exc)
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    if isinstance(exc, RevisionError):
        return f"alembic: {exc}; list the revisions with: lumiku-ops migrate status"
    if isinstance(exc, CommandError):
        return f"alembic: {exc}"
    # A driver error we did not anticipate: its first line only, with secrets removed.
    return "database: " + database_reason(exc)


if __name__ == "__main__":
    sys.exit(main())
