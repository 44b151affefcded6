"""Input checks shared by every route, so hostile input is a 400 wherever it arrives.

PostgreSQL text cannot hold a NUL byte (psycopg refuses to send one), so a NUL anywhere
in a URL or a JSON string is refused before a handler runs or a query is built. JSON is
parsed with a bound on nesting: Python's parser recurses once per level and gives up with
a ``RecursionError`` near a thousand, and nothing here needs more than a few levels.
User ids become part of file names in the media store, so their alphabet is fixed where
they enter: when a token is signed and when one is verified.
"""

from __future__ import annotations

import json
import re
from typing import Any

from service.errors import ApiError

MAX_JSON_DEPTH = 32
NUL_IN_URL = "Invalid request: NUL byte in the URL"
INVALID_JSON = "Invalid JSON body"
JSON_NUL = "Invalid JSON body: strings cannot contain NUL"
JSON_NOT_UNICODE = "Invalid JSON body: a string escapes half of a surrogate pair"
JSON_TOO_DEEP = "Invalid JSON body: nested too deeply"
_SURROGATE = re.compile("[\ud800-\udfff]")

# A file-name-safe id: cuid()s, e-mail-like local parts and slugs fit; "/", "..", spaces
# and control characters do not. The first character is never a dot (no hidden files).
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
USER_ID_RULE = "use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"


def url_has_nul(path: str, query_string: bytes) -> bool:
    """True when the decoded path or the raw query string carries a NUL byte."""
    return "\x00" in path or b"%00" in query_string or b"\x00" in query_string


def is_valid_user_id(user_id: object) -> bool:
    """True for a non-empty id of at most 128 letters, digits, ``.``, ``_`` or ``-``."""
    return isinstance(user_id, str) and USER_ID_PATTERN.fullmatch(user_id) is not None


def check_user_id(user_id: str) -> str:
    """Return ``user_id`` if it is valid.

    Raises:
        ValueError: naming the rule, for an id that could not safely name a file.
    """
    if not is_valid_user_id(user_id):
        raise ValueError(f"invalid user id {user_id!r}: {USER_ID_RULE}")
    return user_id


def _check_structure(value: Any) -> None:
    # Iterative, so a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ApiError(400, JSON_NUL)
            if not item.isascii() and _SURROGATE.search(item):
                # "\ud800" parses, but is no character: it cannot be encoded to store it.
                raise ApiError(400, JSON_NOT_UNICODE)
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
