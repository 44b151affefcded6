"""Curl-style endpoint verification: declarative checks, retried until a deadline.

The verbs, from one request to a whole run:

* :func:`probe` sends ONE request and returns an :class:`Exchange`;
* :func:`run_check` makes one attempt at a :class:`Check` and returns a :class:`CheckResult`;
* :func:`verify_endpoints` retries failing checks until a deadline (the service may be
  redeploying) and returns a :class:`Verification`;
* :func:`raise_for_failed_checks` escalates a failed verification to an exception.

Findings are results, not exceptions: a refused connection, a 500 or a rejected token is
a failed check with a category. Every result is redacted and ``to_dict()`` is JSON-ready.
The result types are in :mod:`lumiku_ops.verify.results`, the checks file format is
documented in :mod:`lumiku_ops.verify.specs`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from urllib.parse import urlsplit

from lumiku_ops.errors import CheckFailedError, ConfigError
from lumiku_ops.project import Project
from lumiku_ops.project_config import STANDALONE
from lumiku_ops.redaction import redact
from lumiku_ops.settings import Settings
from lumiku_ops.verify.probe import DEFAULT_TIMEOUT_S, Exchange, probe
from lumiku_ops.verify.results import CheckResult, Verification
from lumiku_ops.verify.shapes import first_difference, match_shape
from lumiku_ops.verify.specs import Check, default_checks, load_checks

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "Check",
    "Exchange",
    "default_checks",
    "load_checks",
    "probe",
    "raise_for_failed_checks",
    "run_check",
    "verify_endpoints",
]

DEFAULT_TOKEN_ENV = "LUMIKU_TOKEN"
# Waiting will not fix these; retrying them would only delay the answer.
FINAL_CATEGORIES = frozenset({"token rejected", "no token sent", "invalid url", "invalid header"})
_EVIDENCE_CHARS = 200
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def run_check(
    api_url: str, check: Check, token: str | None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> CheckResult:
    """Make one attempt at ``check``: one request, then compare status, body and latency.

    Args:
        api_url: Base URL of the service.
        check: What to send and expect.
        token: The bearer token; not sent when ``check.auth`` is false.
        timeout_s: Connect and read timeout of the request.

    Returns:
        The result of this single attempt (``attempts == 1``).
    """
    sent_token = token if check.auth else None
    exchange = probe(
        api_url, check.method, check.path, sent_token, timeout_s=timeout_s, headers=check.headers
    )
    category, failures = _evaluate(check, exchange, token_sent=bool(sent_token))
    secrets = [token, urlsplit(api_url).password]
    return CheckResult(
        check=check,
        exchange=exchange,
        failures=[redact(line, secrets) for line in failures],
        passed=not failures,
        category=category,
        evidence=redact(_evidence(exchange), secrets) if failures else None,
    )


def verify_endpoints(
    settings: Settings,
    checks: list[Check] | None = None,
    *,
    deadline_s: float = 60.0,
    interval_s: float = 1.0,
    token_env: str = DEFAULT_TOKEN_ENV,
) -> Verification:
    """Run the checks against ``settings.api_url``, retrying failures until the deadline.

    Args:
        settings: Where the service is (``api_url``); with the default ``token_env``, its
            ``token`` (from ``LUMIKU_TOKEN``) is the bearer token.
        checks: The checks; by default the project's ``checks`` file, else a GET
            expecting 200 for each of its ``endpoints``.
        deadline_s: Keep retrying failing checks this long (0: one attempt each).
        interval_s: Pause between rounds of retries.
        token_env: The environment variable holding the token.

    Returns:
        The final result of every check, in order. Auth failures are not retried.

    Raises:
        ConfigError: the API URL is not http(s), the named token variable is unset or
            the token is malformed, or there are no checks.
    """
    api_url = _checked_api_url(settings.api_url)
    token = _token(settings, token_env)
    todo = list(checks) if checks is not None else default_checks(_project_or_none(settings))
    if not todo:
        raise ConfigError("no checks to run")
    started = time.monotonic()
    deadline = started + deadline_s
    results: list[CheckResult] = []
    attempts = [0] * len(todo)
    pending = list(range(len(todo)))
    while True:
        for index in pending:
            attempts[index] += 1
            timeout = min(DEFAULT_TIMEOUT_S, max(2.0, deadline - time.monotonic()))
            result = replace(
                run_check(api_url, todo[index], token, timeout_s=timeout),
                attempts=attempts[index],
            )
            if index < len(results):
                results[index] = result
            else:
                results.append(result)
        pending = [i for i in pending if _worth_retrying(results[i])]
        if not pending or time.monotonic() + interval_s > deadline:
            break
        time.sleep(interval_s)
    return Verification(
        api_url=redact(api_url, [token, urlsplit(api_url).password]),
        checks=results,
        duration_ms=round((time.monotonic() - started) * 1000),
        deadline_s=deadline_s,
    )


def raise_for_failed_checks(verification: Verification) -> Verification:
    """Return ``verification`` if every check passed, else raise.

    Raises:
        CheckFailedError: at least one check failed; ``.checks`` holds the failed results.
    """
    if verification.passed:
        return verification
    names = ", ".join(f"{c.check.name} ({c.category})" for c in verification.failed)
    raise CheckFailedError(
        f"{len(verification.failed)} of {len(verification.checks)} checks failed "
        f"on {verification.api_url}: {names}",
        checks=verification.failed,
    )


def _evaluate(
    check: Check, exchange: Exchange, *, token_sent: bool
) -> tuple[str | None, list[str]]:
    if exchange.status is None:
        return exchange.error_category, [f"expected <{check.status}>, actual <no response>"]
    if exchange.status != check.status:
        return _status_category(exchange.status, token_sent), [
            f"expected <{check.status}>, actual <{exchange.status}>"
        ]
    problems: list[tuple[str, str]] = []
    if check.json is not None or check.shape is not None:
        try:
            body = json.loads(exchange.body_text)
        except ValueError:
            kind = exchange.response_headers.get("content-type", "no content type")
            problems.append(("invalid json", f"expected <JSON body>, actual <{kind}>"))
        else:
            if check.json is not None:
                diff = first_difference(check.json, body)
                problems += [("unexpected body", diff)] if diff else []
            else:
                problems += [("shape mismatch", line) for line in match_shape(check.shape, body)]
    limit = check.max_latency_s
    if limit is not None and exchange.latency_ms > limit * 1000:
        problems.append(
            (
                "too slow",
                f"expected <latency <= {limit * 1000:g} ms>, actual <{exchange.latency_ms:g} ms>",
            )
        )
    return (problems[0][0] if problems else None), [line for _, line in problems]


def _status_category(status: int, token_sent: bool) -> str:
    if status == 401:
        return "token rejected" if token_sent else "no token sent"
    if status == 403:
        return "forbidden"
    if status >= 500:
        return "server error"
    return "unexpected status"


def _evidence(exchange: Exchange) -> str:
    if exchange.status is None:
        return exchange.error_message or "no response"
    text = exchange.body_text.strip()
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        text = " ".join(text.split())
    if not text:
        return f"{exchange.status} {exchange.reason} with an empty body".strip()
    return text if len(text) <= _EVIDENCE_CHARS else text[: _EVIDENCE_CHARS - 3] + "..."


def _worth_retrying(result: CheckResult) -> bool:
    return not result.passed and result.category not in FINAL_CATEGORIES


def _checked_api_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"API URL '{redact(url)}' is not an http(s) URL; e.g. http://127.0.0.1:8000"
        )
    return url.rstrip("/")


def _token(settings: Settings, token_env: str) -> str | None:
    if not _ENV_NAME.match(token_env):
        raise ConfigError(f"'{token_env}' is not an environment variable name")
    # The settings loader read the variable (load_settings(token_env=...)); a variable
    # named on purpose must hold a token, the default one may be unset (public checks).
    token = settings.token
    if token is None and token_env != DEFAULT_TOKEN_ENV:
        raise ConfigError(f"the token variable {token_env} is not set (or empty)")
    if token is not None and (token != token.strip() or not token.isprintable() or " " in token):
        raise ConfigError(f"{token_env} holds whitespace or control characters; set it again")
    return token


def _project_or_none(settings: Settings) -> Project | None:
    # verify works without a project (given --checks); without either, say what to add.
    # A project is described in pyproject.toml, or (no Python) in lumiku-ops.toml.
    if not any((settings.project_dir / name).is_file() for name in ("pyproject.toml", STANDALONE)):
        return None
    return settings.project
