"""The one place secrets are removed from anything shown, logged or saved."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# Bearer tokens and JWT-shaped strings are masked even when nobody told us the secret.
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9\-_.~+/]+=*", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")
# libpq also takes a password (or a password file) as a query parameter or a key=value pair:
# postgresql://u@h/db?password=S3cret, "host=h password=S3cret", passfile=/home/u/.pgpass.
_KEYWORD_SECRET = re.compile(
    r"(?i)(\b(?:password|passfile|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s'\"]+)"
)


def mask_url(url: str) -> str:
    """``url`` with every password replaced by ``***`` (the host and user stay visible).

    Covers each form libpq accepts: the userinfo (``user:pw@``), and ``password=``,
    ``passfile=`` or ``sslpassword=`` in the query string.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        rendered = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        rendered = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", url)
    return _KEYWORD_SECRET.sub(rf"\g<1>{MASK}", rendered)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every known secret, bearer token, JWT and URL password from ``text``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _KEYWORD_SECRET.sub(rf"\g<1>{MASK}", text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
