"""The shape every migration history answers in, whichever tool wrote it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection

from lumiku_ops.db.scratch import scratch_server_url
from lumiku_ops.migrate.differences import Difference
from lumiku_ops.migrate.models_catalog import ModelsCatalog
from lumiku_ops.migrate.revisions import RevisionInfo
from lumiku_ops.migrate.shadow import MigrationReplay
from lumiku_ops.project import Project
from lumiku_ops.settings import Settings

if TYPE_CHECKING:
    from lumiku_ops.migrate.apply import ApplyResult
    from lumiku_ops.migrate.create import MigrationCreated
    from lumiku_ops.migrate.plan import MigrationPlan


@dataclass
class Recorded:
    """What a database records of the history.

    ``current`` is the revision (Alembic: the recorded heads, comma-joined) or the last
    applied migration (Prisma); ``pending`` what remains to apply, in order. ``failed``
    and ``edited`` are Prisma's: a migration that failed and blocks every later one, and
    an applied migration whose file changed since.
    """

    has_table: bool
    current: str | None
    pending: list[str]
    known: bool = True
    applied: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "has_table": self.has_table,
            "current": self.current,
            "pending": self.pending,
            "known": self.known,
            "applied": self.applied,
            "failed": self.failed,
            "edited": self.edited,
            "unknown": self.unknown,
        }


class History(ABC):
    """A project's migrations and what they create, computed once per command."""

    kind: ClassVar[str]
    # The table the tool records applied migrations in (never a model table).
    version_table: ClassVar[str]

    def __init__(self, settings: Settings, *, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.project: Project = settings.project
        self.cache_dir: Path = cache_dir or settings.cache_dir
        self.shadow_url: str | None = scratch_server_url(settings)

    @property
    def directory(self) -> Path:
        """The folder holding the migrations."""
        return self.project.migrations_dir

    @abstractmethod
    def revisions(self) -> list[RevisionInfo]:
        """Every revision (migration), oldest first."""

    @abstractmethod
    def heads(self) -> list[str]:
        """The revisions nothing follows (one, in a healthy history)."""

    @cached_property
    def replay(self) -> MigrationReplay:
        """Each revision's catalog, learned by replaying the history on a shadow database.

        Raises:
            ShadowReplayError: a revision cannot run on an empty database.
        """
        return self._replay()

    @cached_property
    def models(self) -> ModelsCatalog:
        """The catalog the models define, as PostgreSQL renders it."""
        return self._models()

    @cached_property
    def head_differences(self) -> list[Difference]:
        """The migration tool's differences between the models and the history's head:
        ``add_*``/``modify_*`` no revision creates, ``remove_*`` only in the revisions."""
        return self._head_differences()

    @property
    def uncaptured(self) -> list[Difference]:
        """What the models hold and no revision creates."""
        return [d for d in self.head_differences if d.models_ahead]

    @property
    def only_in_revisions(self) -> list[Difference]:
        """What the revisions create and the models lack."""
        return [d for d in self.head_differences if not d.models_ahead]

    @abstractmethod
    def _replay(self) -> MigrationReplay: ...

    @abstractmethod
    def _models(self) -> ModelsCatalog: ...

    @abstractmethod
    def _head_differences(self) -> list[Difference]: ...

    @abstractmethod
    def compare_target(
        self, connection: Connection, tables: Collection[str] | None = None
    ) -> list[Difference]:
        """The tool's differences between the models and the database on ``connection``
        (read-only), limited to ``tables`` when given."""

    @abstractmethod
    def recorded(self, connection: Connection) -> Recorded:
        """What the database on ``connection`` records of this history (read-only)."""

    @abstractmethod
    def create(self, message: str | None, *, allow_destructive: bool) -> MigrationCreated:
        """Write the migration the models need and no migration creates (``migrate create``)."""

    @abstractmethod
    def plan(
        self,
        *,
        target: str,
        from_revision: str | None,
        lock_timeout_s: float,
        statement_timeout_s: float,
    ) -> MigrationPlan:
        """The SQL ``apply`` would run, without touching the database (``migrate plan``)."""

    @abstractmethod
    def apply(
        self,
        *,
        target: str,
        dry_run: bool,
        confirm: bool,
        lock_timeout_s: float,
        statement_timeout_s: float,
        wait: bool,
    ) -> ApplyResult:
        """Apply what is pending, whole or not at all (``migrate apply``)."""

    @abstractmethod
    def rollback(
        self,
        *,
        to: str | None,
        dry_run: bool,
        confirm: bool,
        lock_timeout_s: float,
        statement_timeout_s: float,
        wait: bool,
    ) -> ApplyResult:
        """Undo applied migrations (``migrate rollback``), where the tool has down steps."""

    def recorded_revision(self, connection: Connection) -> tuple[bool, str | None]:
        """Whether the version table exists, and the revision the database is at."""
        state = self.recorded(connection)
        return state.has_table, state.current

    def pending_after(self, current: str | None) -> list[str]:
        """The revisions after ``current`` (all, for ``None``), in order."""
        order = [info.revision for info in self.revisions()]
        if current is None:
            return list(order)
        recorded = [rev for rev in current.split(",") if rev in order]
        if len(recorded) != len(current.split(",")):
            return []
        return order[max(order.index(rev) for rev in recorded) + 1 :]
