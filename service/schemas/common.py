"""Bodies shared by every route: errors, plain messages, and the error ``responses`` entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Closed(BaseModel):
    """Base of every documented body: a key the model does not name is an error."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Closed):
    """An expected failure (4xx, 503): ``{"error": message}``, as the original answered."""

    error: str = Field(description="A message safe to show the caller.")


class InternalErrorBody(Closed):
    """An unexpected failure (500): a fixed message and the id the server log is keyed by."""

    error: str = Field(description='Always "Internal Server Error"; no SQL, no stack trace.')
    requestId: str = Field(description="The same id as the X-Request-ID header and the log.")


class MessageResponse(Closed):
    """A success that returns only a message (``DELETE /subscription``)."""

    message: str


UNAUTHORIZED = "Missing or invalid bearer token, or its user does not exist"
CLIENT_ERROR = "Any other client error, such as a malformed request"
INTERNAL = "Unexpected error; details are only in the server log, under requestId"


def error_responses(
    errors: dict[int, str], *, authenticated: bool = True
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries for ``errors`` (status to description), plus 401, 4XX, 500.

    401 is added for routes behind the bearer token; every route can answer a 500. Every
    4xx the service sends is an ``ErrorBody`` (request validation answers 400, not FastAPI's
    422), and documenting ``4XX`` also keeps FastAPI from listing a 422 that never happens.
    """
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": description}
        for status, description in errors.items()
    }
    if authenticated:
        out.setdefault(401, {"model": ErrorBody, "description": UNAUTHORIZED})
    out["4XX"] = {"model": ErrorBody, "description": CLIENT_ERROR}
    out[500] = {"model": InternalErrorBody, "description": INTERNAL}
    return out


# PostgreSQL text cannot hold a NUL, so no string the service reads may carry one
# (``service.validation``). ECMA-262, Rust and Python read this pattern alike.
NUL_FREE = "^[^\\x00]*$"
NUL_FREE_STRING: dict[str, Any] = {"type": "string", "pattern": NUL_FREE}
JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
# Keys the JSON bodies do not name are ignored, but still parsed and checked.
JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value with no NUL in a string or a key, nested at most 32 deep.",
    "anyOf": [
        NUL_FREE_STRING,
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": JSON_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NUL_FREE},
            "additionalProperties": JSON_VALUE_REF,
        },
    ],
}
EXTRA_COMPONENTS = {"JsonValue": JSON_VALUE}


def json_object_schema(properties: dict[str, Any], *, required: list[str]) -> dict[str, Any]:
    """A JSON object body: ``properties`` as given, any other key ignored (but NUL-free)."""
    schema: dict[str, Any] = {"type": "object"}
    if required:
        schema["required"] = required
    return {
        **schema,
        "properties": properties,
        "propertyNames": {"pattern": NUL_FREE},
        "additionalProperties": JSON_VALUE_REF,
    }
