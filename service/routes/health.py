"""Liveness and readiness: a schema that is behind says so here, before a user sees a 500."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from service.schema_version import read_schema_version
from service.schemas import DatabaseUnreachable, Liveness, NotReady, Ready, error_responses

router = APIRouter()


@router.get(
    "/health",
    response_model=None,
    responses={
        200: {"model": Liveness, "description": "The process is up"},
        **error_responses({}, authenticated=False),
    },
)
def liveness() -> dict[str, str]:
    """The process is up; says nothing about the database."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    responses={
        200: {"model": Ready, "description": "The database is at the code's head revision"},
        503: {
            "model": NotReady | DatabaseUnreachable,
            "description": "The database is behind (or unknown to this code), or unreachable",
        },
        **error_responses({}, authenticated=False),
    },
)
def readiness(request: Request) -> JSONResponse:
    """200 only when the database answers and its revision is the code's head."""
    engine = request.app.state.engine
    scripts = request.app.state.scripts
    try:
        with engine.connect() as connection:
            version = read_schema_version(connection, scripts)
    except SQLAlchemyError:
        body: dict[str, Any] = {
            "status": "unavailable",
            "database": "unreachable",
            "head": scripts.get_current_head(),
        }
        return JSONResponse(body, status_code=503)
    body = {
        "status": "ready" if version.at_head else "not_ready",
        "database": "ok",
        "current": version.current,
        "head": version.head,
        "pending": version.pending,
    }
    if not version.known:
        body["reason"] = f"database revision {version.current} is not in this code's history"
    elif version.pending:
        body["reason"] = f"{len(version.pending)} migration(s) not applied"
    return JSONResponse(body, status_code=200 if version.at_head else 503)
