"""The log's part of a verdict: the chain request -> error -> table/column -> model ->
revision for the errors the verdict explains, and the ``GRANT`` a denied role needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lumiku_ops.db.privileges import PRIVILEGES, RolePrivileges
from lumiku_ops.diagnose.verdicts import PERMISSION_DENIED
from lumiku_ops.logs.linking import LinkedError, grant_statement, qualified_name, quote_identifier
from lumiku_ops.redaction import redact

INSUFFICIENT_PRIVILEGE = "42501"


# Statements only a table's owner may run: no GRANT gives them to another role.
OWNER_VERBS = frozenset({"ALTER", "DROP", "CREATE", "COMMENT", "REINDEX", "CLUSTER", "VACUUM"})


@dataclass
class Denials:
    """The model tables a role was denied, the ``GRANT``s that fix what a GRANT can, and
    for the rest (``DROP``, ``ALTER``: the owner's alone) who must run them."""

    tables: list[str] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)
    owner_only: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)  # of those tables; "" when unknown

    @property
    def owner_command(self) -> str:
        """``SET ROLE "owner";`` when one known owner must run the denied statements."""
        if len(self.owners) == 1 and self.owners[0]:
            return f"SET ROLE {quote_identifier(self.owners[0])};"
        return "SET ROLE <the table's owner>;"


def _needs_owner(error: LinkedError) -> bool:
    message = error.event.message or ""
    return error.event.verb in OWNER_VERBS or message.startswith("must be owner of")


def _owner_sentence(error: LinkedError, owners: Mapping[str, str]) -> str:
    table = error.table or ""
    owner = owners.get(table)
    who = f"its owner, the role {quote_identifier(owner)}" if owner else "the table's owner"
    verb = error.event.verb or "the statement"
    return (
        f"{verb} on {qualified_name(error.schema or 'public', table)} needs {who}; no GRANT "
        "gives it: run it as that role (a reviewed migration), not as the service's role."
    )


def denied_grants(
    errors: Sequence[LinkedError],
    privileges: RolePrivileges | None,
    owners: Mapping[str, str] | None = None,
) -> Denials:
    """The model tables a role was denied and what fixes each.

    With ``privileges`` (``--service-role``) PostgreSQL's own answer decides the GRANTs: a
    42501 in the log on a table the role may now use is stale. Without it, the log decides,
    and the privilege is the one the failing statement needed (all four when unknown). A
    denied ``DROP``/``ALTER`` is never answered with a GRANT: it needs the table's owner
    (named from ``owners``, the catalog's, when the database was read).
    """
    owners = owners or {}
    denied = [
        error
        for error in errors
        if error.event.sqlstate == INSUFFICIENT_PRIVILEGE and error.table and error.exists
    ]
    owner_only: dict[str, str] = {}
    for error in denied:
        if _needs_owner(error):
            owner_only.setdefault(error.table or "", _owner_sentence(error, owners))
    roles = sorted({owners.get(table, "") for table in owner_only})
    if privileges is not None:
        if not privileges.exists:
            return Denials()
        grants = [
            grant_statement(
                missing, table, privileges.role, privileges.schemas.get(table, "public")
            )
            for table, missing in sorted(privileges.missing.items())
        ]
        tables = sorted(set(privileges.missing) | set(owner_only))
        return Denials(tables, grants, [owner_only[t] for t in sorted(owner_only)], roles)
    needed: dict[str, set[str]] = {}
    grantees: dict[str, str | None] = {}
    schemas: dict[str, str] = {}
    for error in denied:
        if _needs_owner(error):
            continue
        table = error.table or ""
        verb = error.event.verb
        needed.setdefault(table, set()).update([verb] if verb in PRIVILEGES else PRIVILEGES)
        grantees[table] = grantees.get(table) or error.event.role
        schemas[table] = error.schema or "public"
    grants = [
        grant_statement([p for p in PRIVILEGES if p in needed[t]], t, grantees[t], schemas[t])
        for t in sorted(needed)
    ]
    tables = sorted(set(needed) | set(owner_only))
    return Denials(tables, grants, [owner_only[t] for t in sorted(owner_only)], roles)


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
