"""``models install``: put rembg models where the service finds them."""

from __future__ import annotations

from typing import Any

import click

from lumiku_ops.cli.base import cli, emit, json_option
from lumiku_ops.settings import load_settings


@cli.group()
def models() -> None:
    """Manage the rembg models the service removes backgrounds with."""


def _render(result: Any) -> str:
    verb = "already installed" if result.source == "present" else f"installed ({result.source})"
    return f"{result.name}: {verb} at {result.path} (md5 {result.md5})"


@models.command()
@click.argument("name", default="u2netp")
@json_option
def install(name: str, as_json: bool) -> int:
    """Install model NAME (default u2netp) into $U2NET_HOME (default ~/.u2net)."""
    settings = load_settings()
    from lumiku_ops.reference import require_reference

    require_reference(settings.project_dir)
    from lumiku_ops.reference.models_install import install_model

    result = install_model(name, model_home=settings.model_home)
    return emit(result, as_json=as_json, render=_render, ok=True)
