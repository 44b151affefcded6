"""Input checks shared by every route, so hostile input is a 400 wherever it arrives.

PostgreSQL text cannot hold a NUL byte (psycopg refuses to send one), so a NUL anywhere
in a URL or a JSON string is refused before a handler runs or a query is built. JSON is
parsed with a bound on nesting: Python's parser recurses once per level and gives up with
a ``RecursionError`` near a thousand, and nothing here needs more than a few levels.
"""

from __future__ import annotations

import json
from typing import Any

from service.errors import ApiError

MAX_JSON_DEPTH = 32
NUL_IN_URL = "Invalid request: NUL byte in the URL"
INVALID_JSON = "Invalid JSON body"
JSON_NUL = "Invalid JSON body: strings cannot contain NUL"
JSON_TOO_DEEP = "Invalid JSON body: nested too deeply"


def url_has_nul(path: str, query_string: bytes) -> bool:
    """True when the decoded path or the raw query string carries a NUL byte."""
    return "\x00" in path or b"%00" in query_string or b"\x00" in query_string


def _check_structure(value: Any) -> None:
    # Iterative, so a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ApiError(400, JSON_NUL)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(400, JSON_TOO_DEEP)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body with no NUL in any string and at most 32 levels of nesting.

    Raises:
        ApiError: 400 for malformed JSON, a non-object, a NUL or too deep a nesting.
    """
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, JSON_TOO_DEEP) from None
    except ValueError:
        raise ApiError(400, INVALID_JSON) from None
    _check_structure(body)
    if not isinstance(body, dict):
        raise ApiError(400, INVALID_JSON)
    return body
