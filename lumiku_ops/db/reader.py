"""Reading the target database, strictly read-only.

Every session opened here has ``default_transaction_read_only`` on and short lock and
statement timeouts, so a diagnosis can neither change a production database nor queue
behind a migration holding locks on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.exc import SQLAlchemyError

from lumiku_ops.db.catalog import TableCatalog, read_model_tables
from lumiku_ops.db.compare import LookAlike, find_look_alikes
from lumiku_ops.db.privileges import RolePrivileges, read_role_privileges, read_table_owners
from lumiku_ops.errors import database_reason
from lumiku_ops.redaction import mask_url

READ_ONLY_OPTIONS = (
    "-c default_transaction_read_only=on -c statement_timeout=5000 -c lock_timeout=2000"
)


@contextmanager
def read_only_connection(url: str, *, purpose: str = "diagnose") -> Iterator[Connection]:
    """A connection inside one read-only transaction, rolled back at the end."""
    engine = create_engine(
        url,
        poolclass=pool.NullPool,
        connect_args={
            "connect_timeout": 5,
            "options": READ_ONLY_OPTIONS,
            "application_name": f"lumiku-ops {purpose}",
        },
    )
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


@dataclass
class DatabaseState:
    """What the target database holds, as far as the models are concerned."""

    url: str
    reachable: bool
    error: str | None = None
    server_version: str | None = None
    read_only: bool = False
    has_version_table: bool = False
    recorded_revision: str | None = None
    catalog: TableCatalog = field(default_factory=dict)
    look_alikes: list[LookAlike] = field(default_factory=list)
    privileges: RolePrivileges | None = None
    owners: dict[str, str] = field(default_factory=dict)  # model table -> its owner role

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the URL's password masked)."""
        return {
            "url": mask_url(self.url),
            "reachable": self.reachable,
            "error": self.error,
            "server_version": self.server_version,
            "read_only_session": self.read_only,
            "version_table": self.has_version_table,
            "recorded_revision": self.recorded_revision,
            "tables_present": sorted(self.catalog),
            "look_alikes": [item.to_dict() for item in self.look_alikes],
            "service_role": self.privileges.to_dict() if self.privileges else None,
            "owners": self.owners,
        }


def read_recorded_revision(connection: Connection) -> tuple[bool, str | None]:
    """Whether ``alembic_version`` exists, and the revision(s) it records."""
    exists = connection.execute(text("SELECT to_regclass('public.alembic_version')")).scalar()
    if exists is None:
        return False, None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return True, ",".join(sorted(rows)) or None


def inspect_database(
    url: str,
    model_tables: Iterable[str],
    *,
    service_role: str | None = None,
    schemas: Mapping[str, str] | None = None,
    recorded: Callable[[Connection], tuple[bool, str | None]] | None = None,
) -> DatabaseState:
    """Read the recorded revision, the model tables, their owners and their look-alikes;
    never writes.

    With ``service_role``, also which privileges that role lacks on each model table.
    ``schemas`` gives a model table's schema when it is not ``public``. ``recorded`` reads
    the version table (default: Alembic's ``alembic_version``).
    """
    names = list(model_tables)
    try:
        with read_only_connection(url) as connection:
            state = DatabaseState(url=url, reachable=True)
            state.server_version = str(connection.execute(text("SHOW server_version")).scalar())
            state.read_only = (
                connection.execute(text("SHOW transaction_read_only")).scalar() == "on"
            )
            state.has_version_table, state.recorded_revision = (recorded or read_recorded_revision)(
                connection
            )
            state.catalog = read_model_tables(connection, names)
            state.look_alikes = find_look_alikes(connection, names)
            state.owners = read_table_owners(connection, state.catalog, schemas)
            if service_role:
                state.privileges = read_role_privileges(
                    connection, service_role, state.catalog, schemas=schemas
                )
            return state
    except SQLAlchemyError as exc:
        return DatabaseState(url=url, reachable=False, error=database_reason(exc, [url]))
