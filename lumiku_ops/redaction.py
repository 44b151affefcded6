"""The one place secrets are removed from anything shown, logged or saved.

Every pattern here runs on every log line that becomes evidence, up to 1 MiB each, so each
must be linear in the line: a start is only tried where a token begins (a lookbehind, not
``\\b``, so a run of token characters is scanned once), and quantifiers that are followed by
something that can fail are possessive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
# Bearer tokens and JWT-shaped strings are masked even when nobody told us the secret.
_BEARER = re.compile(r"(Bearer\s++)[A-Za-z0-9\-_.~+/]++=*+", re.IGNORECASE)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]++\.[A-Za-z0-9_-]++\.[A-Za-z0-9_-]*+")
# user:password@host, where the password is everything up to the authority's LAST "@" (an
# unencoded "@" or "/" in a password is common). A segment never crosses "://", so a start
# scans only up to the next URL and the search stays linear. "host:8080/path@x" is a port
# and a path, not a password: a password made of digits then "/" is the price.
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"'<>]*+:)(?!\d++[/?#])((?:(?:(?!://)[^@\s\"'<>])*+@)++)")
# key=value and "key": "value" where the key names a secret: libpq's password, passfile and
# sslpassword (in a keyword DSN or a URL's query), PGPASSWORD, token, access_token,
# api_key, client_secret, X-Api-Key, session cookies... A key is matched only where a word
# starts, and the lookahead finds the sensitive word once, so a long word is read once.
_SENSITIVE = (
    # pass(word|wd|file), pwd, private_key, secret, session(_id), signature, token, api_key,
    # access_key, authorization, credential(s), cookie: grouped by first letter, which makes
    # the lookahead below, tried at each character of a key, several times cheaper.
    r"p(?:ass(?:word|wd|file)|wd|rivate[_-]?key)|s(?:ecret|ession(?:[_-]?id)?|ignature)"
    r"|token|a(?:pi[_-]?key|ccess[_-]?key|uthorization)|c(?:redentials?|ookie)"
)
_KEYWORD_TRIGGERS = (
    "pass", "pwd", "secret", "token", "key", "credential", "authorization", "session",
    "cookie", "signature",
)  # fmt: skip
# Capped: a key is at most 80 characters and its sensitive word starts within the first 60
# (real keys are short), so a MiB-long word costs one bounded look, not a scan per offset.
_KEY = rf"(?=[\w.-])(?<![\w.-])(?=[\w.-]{{0,60}}?(?:{_SENSITIVE}))[\w.-]{{1,80}}+"
# A value: quoted (the same quote closes it, possibly backslash-escaped inside a JSON
# string; an unclosed quote masks the rest of the line) or bare (up to a space, & or ;).
_QUOTED = r"(?P<q>\\*+[\"'])(?:(?!(?P=q))(?:\\.|[^\\\n]))*+(?:(?P=q)|\\?+)"
_BARE = r"[^\s&;\"']++"
_KEYWORD_SECRET = re.compile(
    rf"(?i)((?:{_KEY}\s*+=|(?<!\\)(?P<kq>\\*+[\"']){_KEY}(?P=kq)\s*+[:=])\s*+)(?:{_QUOTED}|{_BARE})"
)
# HTTP headers that carry a credential whatever its scheme: "Authorization: Basic dXNl...",
# "X-Api-Key: k", "Cookie: a=1; session=s" (the whole cookie header: any cookie may be one).
_HEADER_SECRET = re.compile(
    r"(?i)(?=[\w-])((?<![\w-])(?:proxy-)?authorization:\s*+(?:(?:basic|bearer|token|digest|negotiate)\s++)?)"
    r"[^\s\"',;]++"
    r"|(?=[\w-])((?<![\w-])(?:x-api-key|x-auth-token):\s*+)[^\s\"',;]++"
    r"|(?=[\w-])((?<![\w-])(?:set-)?cookie:\s*+)[^\r\n\"']++"
)
# AWS access key ids (AKIA long-term, ASIA temporary): an identifier, but one that says
# which account to attack, so it is masked like the secret key (which the key rule masks).
_AWS_KEY_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")


def mask_url(url: str) -> str:
    """``url`` with every password replaced by ``***`` (the host and user stay visible).

    Covers each form libpq accepts: the userinfo (``user:pw@``, up to the last ``@``), and
    ``password=``, ``passfile=`` or ``sslpassword=`` in the query string. It is
    :func:`redact` without known secrets: one set of rules for every output.
    """
    return redact(url)


def url_secrets(*urls: str | None) -> list[str | None]:
    """Each URL and its password (as written and decoded): what ``redact`` must mask when a
    text may quote the password alone (a database error echoing a migration's literal)."""
    secrets: list[str | None] = []
    for url in urls:
        if not url:
            continue
        secrets.append(url)
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            secrets += [password, unquote(password)]
    return secrets


def _keyword(found: re.Match[str]) -> str:
    quote = found.group("q") or ""  # kept, so that masking twice changes nothing
    return f"{found.group(1)}{quote}{MASK}{quote}"


def _header(found: re.Match[str]) -> str:
    return f"{found.group(1) or found.group(2) or found.group(3)}{MASK}"


# Each rule runs only when the text holds one of its triggers (lower case; every match of
# the pattern contains one): most text holds none, and a scan for a word costs far less
# than a regex tried at every offset.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], tuple[str, ...]]] = [
    (_HEADER_SECRET, _header, ("authorization", "x-api-key", "x-auth-token", "cookie")),
    (_BEARER, rf"\g<1>{MASK}", ("bearer",)),
    (_JWT, MASK, ("eyj",)),
    (_KEYWORD_SECRET, _keyword, _KEYWORD_TRIGGERS),
    (_AWS_KEY_ID, MASK, ("akia", "asia")),
    (_URL_PASSWORD, rf"\g<1>{MASK}@", ("://",)),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every known secret, and every secret-shaped value, from ``text``.

    Known secrets (a token, a database URL, its password) are replaced wherever they
    appear; then bearer tokens, JWTs, URL passwords, ``key=value`` and ``"key": "value"``
    pairs whose key names a secret, credential headers and AWS key ids. The rest of the
    text (table names, SQLSTATEs, paths, hosts, users) is left as it was.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    lowered = text.lower()
    for pattern, replacement, triggers in _RULES:
        if any(trigger in lowered for trigger in triggers):
            text = pattern.sub(replacement, text)
    return text
