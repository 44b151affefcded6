"""Declarative endpoint checks, and the checks file that lists them.

A checks file is JSON, or TOML when its name ends in ``.toml``. It holds a list of
checks: a top-level JSON array, or a ``checks`` array in either format (``[[checks]]``
tables in TOML). Each check has these fields; only ``path`` is required:

``name``
    A label for the transcript and the JUnit report (default: ``"GET /path"``).
``method``
    ``GET`` (default), ``HEAD``, ``POST``, ``PUT``, ``PATCH``, ``DELETE`` or ``OPTIONS``.
``path``
    Appended to the API URL; starts with ``/`` and may carry a query string.
``status``
    The expected HTTP status (default 200).
``json``
    The exact expected body. Key order and whitespace do not matter; types do
    (``false`` is not ``0``). TOML has no ``null``, so in a TOML file ``json`` may also be a
    string holding JSON text: ``json = '{"subscription": null}'``.
``shape``
    The expected body by type instead of by value, in the shape language of
    :mod:`lumiku_ops.verify.shapes`: ``{"jobs": "array", "stats": {"totalBatches": "integer"}}``.
    Give ``json`` or ``shape``, not both; with neither, the body is not checked.
``max_latency``
    The slowest acceptable answer: ``"500ms"``, ``"2s"`` or a number of seconds.
``auth``
    Send the bearer token (default ``true``); ``false`` for public endpoints.
``headers``
    Extra request headers, names to string values. Never a token: an ``Authorization``
    header is refused, since the token comes only from the environment.

Example (TOML)::

    [[checks]]
    name = "jobs"
    path = "/api/background-remover/jobs"
    shape = { jobs = [{ id = "string", status = "string" }] }
    max_latency = "500ms"

    [[checks]]
    name = "liveness"
    path = "/health"
    auth = false
    json = { status = "ok" }
"""

from __future__ import annotations

import json as jsonlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.durations import parse_duration
from lumiku_ops.errors import ConfigError
from lumiku_ops.project import Project
from lumiku_ops.verify.probe import mask_headers
from lumiku_ops.verify.shapes import validate_shape

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_FIELDS = ("name", "method", "path", "status", "json", "shape", "max_latency", "auth", "headers")


@dataclass(frozen=True, kw_only=True)
class Check:
    """One request and what its answer must be; all fields are keyword-only.

    ``json`` of ``None`` means "do not compare the body exactly" (to require a ``null``
    body, use ``shape="null"``). ``max_latency_s`` of ``None`` means no latency limit.

    Raises:
        ConfigError: a field is invalid (the message names the check).
    """

    name: str
    method: str = "GET"
    path: str
    status: int = 200
    json: Any = None
    shape: Any = None
    max_latency_s: float | None = None
    auth: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"check '{self.name}'"
        object.__setattr__(self, "method", str(self.method).upper())
        if self.method not in METHODS:
            raise ConfigError(f"{where}: method '{self.method}' is not one of {', '.join(METHODS)}")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigError(f"{where}: path must be a string starting with '/'")
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise ConfigError(f"{where}: status must be an integer such as 200")
        if not 100 <= self.status <= 599:
            raise ConfigError(f"{where}: status {self.status} is not an HTTP status")
        if self.json is not None and self.shape is not None:
            raise ConfigError(f"{where}: give 'json' (exact body) or 'shape', not both")
        if self.shape is not None:
            try:
                validate_shape(self.shape)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        if self.max_latency_s is not None and self.max_latency_s < 0:
            raise ConfigError(f"{where}: max_latency must be zero or more")
        if not isinstance(self.auth, bool):
            raise ConfigError(f"{where}: auth must be true or false")
        for key, value in self.headers.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(f"{where}: headers must map names to string values")
            if key.lower() == "authorization":
                raise ConfigError(
                    f"{where}: remove the Authorization header; the token comes only from "
                    "the environment (LUMIKU_TOKEN, or the variable named by --token-env)"
                )

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data (header values a secret could hide in are masked)."""
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "json": self.json,
            "shape": self.shape,
            "max_latency_s": self.max_latency_s,
            "auth": self.auth,
            "headers": mask_headers(dict(self.headers)),
        }


def default_checks(project: Project | None) -> list[Check]:
    """What to check when no checks are given: the project's ``checks`` file, else a
    ``GET`` expecting 200 for each of its ``endpoints``.

    Raises:
        ConfigError: there is no project, or it names neither checks nor endpoints.
    """
    if project is not None and project.checks_file is not None:
        return load_checks(project.checks_file)
    if project is not None and project.endpoints:
        return [Check(name=f"GET {path}", path=path) for path in project.endpoints]
    raise ConfigError(
        "no checks: pass --checks FILE, or give the project `checks` or `endpoints` "
        "in [tool.lumiku-ops]"
    )


def load_checks(path: str | Path) -> list[Check]:
    """Read a checks file (JSON, or TOML for ``*.toml``); see the module docstring.

    Args:
        path: The file to read.

    Returns:
        The checks, in file order.

    Raises:
        ConfigError: the file cannot be read or parsed, or a check is invalid; the
            message names the file and the check.
    """
    path = Path(path)
    is_toml = path.suffix.lower() == ".toml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read checks file {path}: {reason}") from None
    try:
        data: Any = tomllib.loads(text) if is_toml else jsonlib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        kind = "TOML" if is_toml else "JSON (name the file *.toml for TOML)"
        raise ConfigError(f"checks file {path} is not valid {kind}: {exc}") from None
    if isinstance(data, dict) and set(data) == {"checks"}:
        data = data["checks"]
    if not isinstance(data, list) or not data:
        raise ConfigError(
            f"checks file {path} must hold a non-empty list of checks "
            "(a JSON array, or a 'checks' array / [[checks]] tables)"
        )
    return [_check_from(entry, index, path, is_toml) for index, entry in enumerate(data, 1)]


def _check_from(entry: Any, index: int, path: Path, is_toml: bool) -> Check:
    where = f"checks file {path}, check {index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table/object of fields, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)}; use {', '.join(_FIELDS)}"
        )
    if "path" not in entry:
        raise ConfigError(f"{where}: 'path' is required")
    expected = entry.get("json")
    if is_toml and isinstance(expected, str):
        try:
            expected = jsonlib.loads(expected)
        except ValueError as exc:
            raise ConfigError(f"{where}: 'json' is a string but not JSON text: {exc}") from None
    method = str(entry.get("method", "GET")).upper()
    latency = entry.get("max_latency")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, str | int | float)
    ):
        raise ConfigError(f'{where}: max_latency must be a duration such as "500ms" or "2s"')
    headers = entry.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(f"{where}: 'headers' must be a table/object of names to values")
    try:
        return Check(
            name=str(entry.get("name") or f"{method} {entry['path']}"),
            method=method,
            path=entry["path"],
            status=entry.get("status", 200),
            json=expected,
            shape=entry.get("shape"),
            max_latency_s=None if latency is None else parse_duration(latency),
            auth=entry.get("auth", True),
            headers=headers,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
