"""The served OpenAPI document: FastAPI's, plus the shared schemas the routes refer to."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.schemas.common import EXTRA_COMPONENTS


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with ``EXTRA_COMPONENTS`` added (built once, then cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(EXTRA_COMPONENTS)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
