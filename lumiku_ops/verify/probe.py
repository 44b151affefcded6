"""One HTTP request, recorded as an :class:`Exchange` a human can read and replay with curl.

Everything an Exchange holds is already redacted: the token (sent as a bearer header)
and any password in the API URL never reach its fields, its ``curl`` line or
``to_dict()``.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from lumiku_ops.errors import ConfigError
from lumiku_ops.redaction import MASK, redact

DEFAULT_TIMEOUT_S = 10.0
_SENSITIVE_HEADER = re.compile(r"authorization|cookie|token|secret|passw|api[-_]?key", re.I)
_HTTP_VERSIONS = {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}
_DNS_HINTS = (
    "NameResolutionError",
    "Name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "Temporary failure in name resolution",
    "No address associated with hostname",
)


@dataclass(frozen=True)
class Exchange:
    """A request and its response (or why there was none), redacted.

    ``status`` is ``None`` when no response arrived; ``error_category`` (for example
    ``"connection refused"``) and ``error_message`` then say why. ``body_text`` is the
    whole body; ``body_bytes`` its size on the wire.
    """

    method: str
    url: str
    status: int | None
    latency_ms: float
    request_headers: dict[str, str]
    response_headers: dict[str, str]
    body_text: str
    curl: str
    reason: str = ""
    http_version: str = "HTTP/1.1"
    body_bytes: int = 0
    error_category: str | None = None
    error_message: str | None = None
    request_target: str = field(default="/", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The exchange as JSON-ready data (already free of secrets)."""
        return asdict(self)


def mask_headers(
    headers: Mapping[str, str], secrets: list[str | None] | None = None
) -> dict[str, str]:
    """``headers`` with credential-like values masked and known secrets redacted.

    A bearer ``Authorization`` header keeps its scheme: ``Bearer ***``.
    """
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            masked[name] = f"Bearer {MASK}"
        elif _SENSITIVE_HEADER.search(name):
            masked[name] = MASK
        else:
            masked[name] = redact(value, secrets or [])
    return masked


def curl_command(method: str, url: str, headers: Mapping[str, str], *, token_sent: bool) -> str:
    """The equivalent curl command, with the token shown as ``Bearer ***``."""
    parts = ["curl", "-sS", "-X", method, _quote(redact(url))]
    if token_sent:
        parts += ["-H", _quote(f"Authorization: Bearer {MASK}")]
    for name, value in mask_headers(headers).items():
        parts += ["-H", _quote(f"{name}: {value}")]
    return " ".join(parts)


def probe(
    api_url: str,
    method: str,
    path: str,
    token: str | None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    headers: Mapping[str, str] | None = None,
) -> Exchange:
    """Send ONE request and record it; a missing response is a result, not an exception.

    Args:
        api_url: Base URL of the service, e.g. ``http://127.0.0.1:8000``.
        method: HTTP method.
        path: Appended to ``api_url``; starts with ``/``.
        token: Sent as ``Authorization: Bearer <token>`` when given.
        timeout_s: Connect and read timeout, in seconds.
        headers: Extra request headers.

    Returns:
        The exchange; ``status`` is ``None`` and ``error_category`` is set when the
        connection was refused, the host did not resolve, or the request timed out.
    """
    url = api_url.rstrip("/") + path
    base = urlsplit(api_url)
    if not path.startswith("/") or path.startswith("//") or urlsplit(url)[:2] != base[:2]:
        # The bearer token goes to the configured API origin and nowhere else.
        raise ConfigError(
            f"endpoint '{path}' is not a path: give it as /path/on/the/service "
            "(the API origin comes from --api-url)"
        )
    secrets = [token, base.password]
    extra = dict(headers or {})
    sent = {**extra, **({"Authorization": f"Bearer {token}"} if token else {})}
    curl = redact(curl_command(method, url, extra, token_sent=bool(token)), secrets)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    record: dict[str, Any] = {
        "method": method,
        "url": redact(url, secrets),
        "curl": curl,
        "request_target": redact(target, secrets),
        "request_headers": mask_headers(_wire_headers(parts.hostname, parts.port, sent), secrets),
    }
    started = time.perf_counter()
    try:
        with requests.Session() as session:
            # With a token, a no-op auth stops requests from replacing our bearer header
            # with Basic auth built from URL userinfo or ~/.netrc (curl keeps -H too).
            request = requests.Request(method, url, headers=sent, auth=_keep if token else None)
            prepared = session.prepare_request(request)
            record["request_headers"] = mask_headers(
                _wire_headers(parts.hostname, parts.port, dict(prepared.headers)), secrets
            )
            response = session.send(prepared, timeout=timeout_s, allow_redirects=False)
            content = response.content
    except requests.RequestException as exc:
        category, message = _explain(exc, parts.hostname, parts.port, timeout_s)
        return Exchange(
            **record,
            status=None,
            latency_ms=_ms_since(started),
            response_headers={},
            body_text="",
            error_category=category,
            error_message=redact(message, secrets),
        )
    return Exchange(
        **record,
        status=response.status_code,
        latency_ms=_ms_since(started),
        reason=response.reason or "",
        http_version=_HTTP_VERSIONS.get(getattr(response.raw, "version", 11), "HTTP/1.1"),
        response_headers=mask_headers(dict(response.headers), secrets),
        body_text=redact(content.decode(response.encoding or "utf-8", "replace"), secrets),
        body_bytes=len(content),
    )


def _keep(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _wire_headers(host: str | None, port: int | None, headers: Mapping[str, str]) -> dict[str, str]:
    netloc = (f"[{host}]" if host and ":" in host else host or "") + (f":{port}" if port else "")
    return {"Host": netloc, **headers}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _explain(
    exc: requests.RequestException, host: str | None, port: int | None, timeout_s: float
) -> tuple[str, str]:
    """A short category and a one-line message for a request that got no response."""
    where = f"{host}:{port}" if port else str(host)
    text = f"{exc!r} {exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            "tls error",
            f"TLS handshake with {where} failed; check the URL scheme and certificate",
        )
    if isinstance(exc, requests.Timeout):
        return "timeout", f"no answer from {where} within {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return "invalid header", "a header value is not valid HTTP (a newline or leading space?)"
    if isinstance(
        exc,
        requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidURL,
    ):
        return "invalid url", "the API URL is not a valid http(s) URL"
    if isinstance(exc, requests.ConnectionError):
        if any(hint in text for hint in _DNS_HINTS):
            return "could not resolve host", f"cannot resolve host '{host}'; check the API URL"
        if "Connection refused" in text or f"Errno {errno.ECONNREFUSED}]" in text:
            return "connection refused", f"nothing is listening on {where}; is the service up?"
        if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text:
            return "connection closed", f"{where} closed the connection without answering"
        return "connection failed", f"could not connect to {where}"
    return "request failed", f"{type(exc).__name__}: {exc}"
