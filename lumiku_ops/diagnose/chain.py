"""The log's part of a verdict: the chain request -> error -> table/column -> model ->
revision for the errors the verdict explains, and the ``GRANT`` a denied role needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lumiku_ops.db.privileges import PRIVILEGES, RolePrivileges
from lumiku_ops.diagnose.verdicts import PERMISSION_DENIED
from lumiku_ops.logs.linking import LinkedError, grant_statement
from lumiku_ops.redaction import redact

INSUFFICIENT_PRIVILEGE = "42501"


def denied_grants(
    errors: Sequence[LinkedError], privileges: RolePrivileges | None
) -> tuple[list[str], list[str]]:
    """The model tables a role was denied and the ``GRANT`` statements that fix it.

    With ``privileges`` (``--service-role``) PostgreSQL's own answer decides: a 42501 in
    the log on a table the role may now use is stale. Without it, the log decides, and
    the privilege is the one the failing statement needed (all four when unknown).
    """
    if privileges is not None:
        if not privileges.exists:
            return [], []
        return sorted(privileges.missing), [
            grant_statement(missing, table, privileges.role)
            for table, missing in sorted(privileges.missing.items())
        ]
    needed: dict[str, set[str]] = {}
    roles: dict[str, str | None] = {}
    for error in errors:
        if error.event.sqlstate != INSUFFICIENT_PRIVILEGE or not error.table or not error.exists:
            continue
        verb = error.event.verb
        needed.setdefault(error.table, set()).update([verb] if verb in PRIVILEGES else PRIVILEGES)
        roles[error.table] = roles.get(error.table) or error.event.role
    grants = [
        grant_statement([p for p in PRIVILEGES if p in needed[table]], table, roles[table])
        for table in sorted(needed)
    ]
    return sorted(needed), grants


def verdict_chain(
    verdict: str, affected: Sequence[str], errors: Sequence[LinkedError]
) -> list[dict[str, Any]]:
    """One row per distinct (path, error, object) the verdict explains: the newest request,
    with how many times it failed and when it first did (``count``, ``first_time``)."""
    if verdict == PERMISSION_DENIED:
        chosen = [
            e for e in errors if e.event.sqlstate == INSUFFICIENT_PRIVILEGE and e.table in affected
        ]
    else:
        chosen = [e for e in errors if e.blames_schema and e.table in affected]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for error in chosen:
        event = error.event
        key = (event.path, event.sqlstate, error.table, error.column)
        earlier = rows.get(key, {})
        first = earlier.get("first_time") or (event.time.isoformat() if event.time else None)
        rows[key] = {
            "count": earlier.get("count", 0) + 1,
            "first_time": first,
            "request": f"{event.method or 'GET'} {event.path}" if event.path else None,
            "request_id": event.request_id,
            "time": event.time.isoformat() if event.time else None,
            "error": redact(error.error),
            "sqlstate": event.sqlstate,
            "object": f"{error.table}.{error.column}" if error.column else error.table,
            "model": error.model,
            "revision": error.revision,
            "revision_state": error.revision_state,
        }
    return list(rows.values())
