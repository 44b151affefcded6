"""``verify``: curl-style checks of the service's endpoints, retried until a deadline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lumiku_ops.cli.base import api_url_option, cli, emit, json_option, lazy, project_option
from lumiku_ops.durations import parse_duration
from lumiku_ops.errors import LumikuOpsError
from lumiku_ops.settings import load_settings

if TYPE_CHECKING:
    from lumiku_ops.verify.endpoints import Check

DEFAULT_TOKEN_ENV = "LUMIKU_TOKEN"
load_checks = lazy("lumiku_ops.verify.specs", "load_checks")
verify_endpoints = lazy("lumiku_ops.verify.endpoints", "verify_endpoints")
format_junit = lazy("lumiku_ops.verify.transcript", "format_junit")
format_verification = lazy("lumiku_ops.verify.transcript", "format_verification")


def _load_checks(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    # Loading is part of parsing: a bad file stops here with one ``error:`` line (exit 1).
    return load_checks(value) if value is not None else None


@cli.command()
@api_url_option
@click.option(
    "--checks",
    "checks",
    metavar="FILE",
    callback=_load_checks,
    help="Checks file, JSON or TOML (default: the project's checks, else its endpoints).",
)
@project_option
@click.option(
    "--deadline",
    default="60s",
    show_default=True,
    help="Retry failing checks this long, e.g. 500ms, 20s, 2m (0: one attempt).",
)
@click.option(
    "--token-env",
    default=DEFAULT_TOKEN_ENV,
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the bearer token.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report here.",
)
@json_option
def verify(
    api_url: str | None,
    checks: list[Check] | None,
    deadline: str,
    token_env: str,
    junit: Path | None,
    project_dir: str | None,
    as_json: bool,
) -> int:
    """Check the service's endpoints curl-style, retrying until the deadline."""
    deadline_s = parse_duration(deadline)
    settings = load_settings(api_url=api_url, token_env=token_env, project_dir=project_dir)
    verification = verify_endpoints(settings, checks, deadline_s=deadline_s, token_env=token_env)
    if junit is not None:
        try:
            junit.write_text(format_junit(verification), encoding="utf-8")
        except OSError as exc:
            raise LumikuOpsError(f"cannot write the JUnit report {junit}: {exc.strerror}") from None
    return emit(verification, as_json=as_json, render=format_verification, ok=verification.passed)
