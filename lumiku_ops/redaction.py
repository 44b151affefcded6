"""The one place secrets are removed from anything shown, logged or saved."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
# Bearer tokens and JWT-shaped strings are masked even when nobody told us the secret.
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9\-_.~+/]+=*", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (the host and user stay visible)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", url)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every known secret, bearer token, JWT and URL password from ``text``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _JWT.sub(MASK, text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
