"""``prisma install``: put Prisma's pinned schema engine where Prisma projects find it."""

from __future__ import annotations

from typing import Any

from lumiku_ops.cli.base import cli, emit, json_option
from lumiku_ops.settings import load_settings


@cli.group()
def prisma() -> None:
    """Manage Prisma's schema engine, which Prisma projects are read with."""


def _render(result: Any) -> str:
    verb = "already installed" if result.source == "present" else "installed (npm ci)"
    wasm = result.packages.get("@prisma/schema-engine-wasm", "?")
    return (
        f"Prisma schema engine {wasm}: {verb} at {result.path}\n"
        f"  adapter: @prisma/adapter-pg {result.packages.get('@prisma/adapter-pg', '?')}, "
        f"pg {result.packages.get('pg', '?')}; runs on Node.js {result.node}"
    )


@prisma.command()
@json_option
def install(as_json: bool) -> int:
    """Install the pinned schema engine (npm ci) into the user's cache folder.

    Needs Node.js 20 or newer and npm; quick when this pin is already installed. The
    versions and their integrity hashes are those of lumiku-ops's package-lock.json.
    """
    settings = load_settings()
    from lumiku_ops.prisma.install import installed_engine

    result = installed_engine(settings.cache_dir)
    return emit(result, as_json=as_json, render=_render, ok=True)
