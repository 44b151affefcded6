"""From log lines to ``LogEvent``s: the reference service's JSON lines, PostgreSQL's own
server log (its default ``%m [%p] `` prefix, ``%u@%d``, verbose SQLSTATEs, ``jsonlog``) and
any plain text that quotes a PostgreSQL error message, and a Node service's Prisma errors
(``P2021``: "The table `public.X` does not exist in the current database.", ``P2022`` for a
column), in plain text or in a JSON logger's ``err`` object.

The service logs a 500 as two JSON records sharing a request id: ``unhandled error``
(``sqlstate``, the traceback in ``exc_info``) and ``request`` (``status``). They are merged
by request id. PostgreSQL's messages name the object in a fixed shape per SQLSTATE, which
is how a message without a SQLSTATE (a plain-text log) still gets one (see ``messages``).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lumiku_ops.logs.messages import PRISMA_CODES, match_message
from lumiku_ops.redaction import redact

MAX_EVENTS = 1000  # the newest; a log with more distinct failing requests repeats itself
MAX_MESSAGE = 500  # characters kept of a message or a named object
MAX_TEXT = 2000  # of a request path or a statement
# Secrets are masked here, where a line becomes evidence, so every output gets them masked.
# Only the part that is kept is masked, plus a margin so that a secret cut by the truncation
# (a URL password before its "@", a JWT before its second ".") is still recognised whole.
_MASK_MARGIN = 8 * 1024

# Every pattern runs on lines of up to 1 MiB, so each is linear in the line: a quantifier
# followed by something that can fail is possessive (``++``, ``*+``) and never spans what
# starts another match, so an unanchored search does not rescan the rest of the line from
# every offset. tests/logs/test_linear_patterns.py runs each one on crafted 1 MiB lines.
_DRIVER_LINE = re.compile(r"psycopg2?\.errors\.\w++: (?P<message>[^\n]++)")
_SQL = re.compile(r"\[SQL: (?P<sql>[^\]]{0,2000})")
_PG_PREFIX = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)"
    r"(?: (?P<tz>[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?))?"
    r"(?P<rest>.*)$"
)
_PG_ERROR = re.compile(
    r"(?:^|\s)(?:(?P<user>[\w$-]++)@(?P<db>[\w$-]++) )?(?:\[?(?P<state1>[0-9A-Z]{5})\]? )?"
    r"(?P<severity>ERROR|FATAL):\s+(?:(?P<state2>[0-9A-Z]{5}): )?(?P<message>.+)"
)
_PG_USER = re.compile(r"\buser=(?P<user>[\w$-]++)")
_PG_STATEMENT = re.compile(r"\bSTATEMENT:\s+(?P<sql>.+)")
_AT_CHARACTER = re.compile(r" at character \d++$")
_NUMERIC_OFFSET = re.compile(r"[+-]\d{4}$")
_JSON_HINTS = (
    '"sqlstate"',
    '"status": 5',
    '"status":5',
    '"state_code"',
    "exc_info",
    '"statusCode"',
    '"code":"P',
    '"code": "P',
)
_TEXT_HINTS = ("ERROR", "FATAL", "does not exist", "permission denied", "STATEMENT:")


@dataclass
class LogEvent:
    """One failing request (or one PostgreSQL error line) as the log tells it."""

    source: str  # "service" (JSON lines), "postgres" (server log), "text"
    line: int
    time: datetime | None = None
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    sqlstate: str | None = None
    message: str | None = None
    role: str | None = None
    statement: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """A 5xx, or a database error whatever the status."""
        return (self.status is not None and self.status >= 500) or self.sqlstate is not None

    @property
    def verb(self) -> str | None:
        """The SQL statement's first keyword (the privilege a 42501 was refused)."""
        if not self.statement:
            return None
        words = self.statement.strip().split(None, 1)
        return words[0].upper() if words else None


def parse_time(text: str | None, tz: str | None = None) -> datetime | None:
    """An ISO-like timestamp (``+0000``, ``+00:00``, ``Z`` or a zone name taken as UTC)."""
    if not text:
        return None
    value = text.strip().replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if _NUMERIC_OFFSET.search(value):
        value = value[:-2] + ":" + value[-2:]
    if tz and tz[0] in "+-":
        value += tz if ":" in tz or len(tz) == 3 else tz[:3] + ":" + tz[3:]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class LogParser:
    """Feed lines one at a time; ``events()`` gives the errors, newest ``MAX_EVENTS`` kept."""

    def __init__(self) -> None:
        self._events: OrderedDict[str, LogEvent] = OrderedDict()
        self._last_postgres: LogEvent | None = None
        self.lines = 0

    def feed(self, line: str) -> None:
        """Parse one line (without its newline)."""
        self.lines += 1
        stripped = line.strip()
        if not stripped:
            return
        if stripped.startswith("{") and any(hint in stripped for hint in _JSON_HINTS):
            try:
                record = json.loads(stripped)
            except ValueError:
                record = None
            if isinstance(record, dict):
                self._json(record)
                return
        if any(hint in stripped for hint in _TEXT_HINTS):
            self._text(stripped)

    def events(self) -> list[LogEvent]:
        """The errors read so far, oldest first."""
        return [event for event in self._events.values() if event.is_error]

    def _keep(self, key: str, event: LogEvent) -> LogEvent:
        kept = self._events.get(key)
        if kept is None:
            self._events[key] = kept = event
            while len(self._events) > MAX_EVENTS:
                self._events.popitem(last=False)
        return kept

    def _json(self, record: dict[str, Any]) -> None:
        if "state_code" in record or "error_severity" in record:  # PostgreSQL's jsonlog
            self._postgres(
                record.get("timestamp"),
                None,
                str(record.get("state_code") or "") or None,
                str(record.get("message") or ""),
                record.get("user"),
                record.get("statement"),
            )
            return
        request_id = record.get("request_id") or record.get("reqId")
        key = f"request:{request_id}" if request_id else f"line:{self.lines}"
        event = self._keep(key, LogEvent(source="service", line=self.lines))
        event.request_id = event.request_id or (str(request_id) if request_id else None)
        event.time = event.time or parse_time(str(record.get("time") or "") or None)
        event.method = event.method or _str(record.get("method"))
        event.path = event.path or _masked(_str(record.get("path")), MAX_TEXT)
        event.role = event.role or _str(record.get("db_role"))
        if isinstance(record.get("status"), int):
            event.status = record["status"]
        _node(record, event)
        trace = str(record.get("exc_info") or "")
        state = _str(record.get("sqlstate"))
        driver = _DRIVER_LINE.search(trace)
        message = driver.group("message").strip() if driver else None
        error = record.get("err") or record.get("error")
        if isinstance(error, dict) and not (state or message):
            # A Node logger's serialized error: Prisma's code, or PostgreSQL's in ``code``.
            code = _str(error.get("code"))
            state = PRISMA_CODES.get(code or "") or (
                code if code and re.fullmatch(r"[0-9A-Z]{5}", code) else None
            )
            message = _str(error.get("message"))
            message = message.strip().splitlines()[-1] if message and message.strip() else None
        if state or message:
            event.sqlstate, event.fields = _masked_fields(match_message(message or "", state))
            event.message = _masked(message, MAX_MESSAGE)
            sql = _SQL.search(trace)
            event.statement = _masked(sql.group("sql").strip(), MAX_TEXT) if sql else None

    def _text(self, line: str) -> None:
        statement = _PG_STATEMENT.search(line)
        if statement and self._last_postgres is not None:
            if self._last_postgres.statement is None:
                self._last_postgres.statement = _masked(statement.group("sql"), MAX_TEXT)
            return
        prefix = _PG_PREFIX.match(line)
        body = prefix.group("rest") if prefix else line
        error = _PG_ERROR.search(body)
        if error:
            user = error.group("user") or _group(_PG_USER.search(body), "user")
            self._postgres(
                prefix.group("time") if prefix else None,
                prefix.group("tz") if prefix else None,
                error.group("state2") or error.group("state1"),
                error.group("message"),
                user,
                None,
                source="postgres" if prefix else "text",
            )
            return
        driver = _DRIVER_LINE.search(line)
        state, fields = match_message(driver.group("message") if driver else line)
        if state:
            event = self._keep(f"line:{self.lines}", LogEvent(source="text", line=self.lines))
            event.sqlstate, event.fields = _masked_fields((state, fields))
            event.message = _masked(driver.group("message") if driver else line, MAX_MESSAGE)
            event.time = parse_time(_group(_PG_PREFIX.match(line), "time"))

    def _postgres(
        self,
        time: Any,
        tz: str | None,
        state: str | None,
        message: str,
        user: Any,
        statement: Any,
        *,
        source: str = "postgres",
    ) -> None:
        message = _AT_CHARACTER.sub("", message.strip())
        found_state, fields = _masked_fields(match_message(message, state))
        if not found_state:
            self._last_postgres = None
            return
        event = self._keep(f"line:{self.lines}", LogEvent(source=source, line=self.lines))
        event.time = parse_time(str(time) if time else None, tz)
        event.sqlstate, event.fields = found_state, fields
        event.message = _masked(message, MAX_MESSAGE)
        event.role = str(user) if user else None
        event.statement = _masked(str(statement), MAX_TEXT) if statement else None
        self._last_postgres = event


def _node(record: dict[str, Any], event: LogEvent) -> None:
    """A Node logger's request fields (pino's ``req``/``res``, ``statusCode``, ``reqId``)."""
    request: dict[str, Any] = record["req"] if isinstance(record.get("req"), dict) else {}
    response: dict[str, Any] = record["res"] if isinstance(record.get("res"), dict) else {}
    status = response.get("statusCode", record.get("statusCode"))
    if isinstance(status, int) and not isinstance(status, bool):
        event.status = status
    event.method = event.method or _str(request.get("method"))
    event.path = event.path or _masked(_str(request.get("url")), MAX_TEXT)
    if event.request_id is None:
        event.request_id = _str(record.get("reqId") or request.get("id"))


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _masked(text: str | None, keep: int) -> str | None:
    """The first ``keep`` characters of ``text``, secrets masked."""
    if text is None:
        return None
    return redact(text[: keep + _MASK_MARGIN])[:keep]


def _masked_fields(found: tuple[str | None, dict[str, str]]) -> tuple[str | None, dict[str, str]]:
    state, fields = found
    return state, {name: _masked(value, MAX_MESSAGE) or "" for name, value in fields.items()}


def _group(match: re.Match[str] | None, name: str) -> str | None:
    return match.group(name) if match else None
