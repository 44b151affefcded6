"""Alembic's history: a ``ScriptDirectory``, ``alembic_version``, revisions run through an
``EnvironmentContext`` on lumiku-ops's own connection, and Alembic's own comparison."""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from lumiku_ops.db.reader import read_recorded_revision
from lumiku_ops.history.base import History, Recorded
from lumiku_ops.migrate.comparison import (
    compare_models,
    compare_target_with_head,
    head_comparison,
    remember_head_differences,
)
from lumiku_ops.migrate.differences import Difference
from lumiku_ops.migrate.listing import Listing, history_listing
from lumiku_ops.migrate.models_catalog import ModelsCatalog, model_catalog
from lumiku_ops.migrate.revisions import RevisionInfo
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.shadow import MigrationReplay, replay_migrations

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from lumiku_ops.migrate.apply import ApplyResult
    from lumiku_ops.migrate.create import MigrationCreated
    from lumiku_ops.migrate.plan import MigrationPlan


class AlembicHistory(History):
    """A SQLAlchemy + Alembic project's history."""

    kind = "alembic"
    version_table = "alembic_version"

    @cached_property
    def scripts(self) -> ScriptDirectory:
        """Alembic's view of the revision files."""
        return script_directory(self.project)

    @cached_property
    def listing(self) -> Listing:
        """The revisions and heads, without loading the revision modules when the files
        are those of a history listed before (``migrate.listing``)."""
        return history_listing(self.project, self.cache_dir)

    def revisions(self) -> list[RevisionInfo]:
        """Every revision, oldest first."""
        return list(self.listing.revisions)

    def heads(self) -> list[str]:
        """The revisions nothing follows."""
        return list(self.listing.heads)

    def _replay(self) -> MigrationReplay:
        self.project.metadata()  # the models first: a module that fails to import fails at once
        return replay_migrations(
            self.project,
            shadow_url=self.shadow_url,
            cache_dir=self.cache_dir,
            # The replay's shadow is at the head: compare there, not on a second replay.
            at_head=lambda connection, key: remember_head_differences(
                self.project, connection, self.cache_dir, key
            ),
            listing=self.listing,
        )

    def _models(self) -> ModelsCatalog:
        return model_catalog(
            self.project,
            extensions=self.replay.extensions,
            shadow_url=self.shadow_url,
            cache_dir=self.cache_dir,
        )

    @cached_property
    def _head(self) -> dict[str, Any]:
        # self.replay first: a revision that cannot replay gives one clear error.
        return head_comparison(
            self.project,
            shadow_url=self.shadow_url,
            cache_dir=self.cache_dir,
            history_key=self.replay.fingerprint,
        )

    def _head_differences(self) -> list[Difference]:
        return [Difference.from_dict(d) for d in self._head["differences"]]

    def compare_target(
        self, connection: Connection, tables: Collection[str] | None = None
    ) -> list[Difference]:
        """Alembic's ``compare_metadata`` with the project's hooks and switches.

        Once the head is compared, a target whose ``tables`` are exactly the head's gets
        the head's answer without a second reflection (``compare_target_with_head``).
        """
        if tables is not None and "_head" in self.__dict__:
            return compare_target_with_head(connection, self.project, tables, self._head)
        return compare_models(connection, self.project, tables=tables)

    def recorded(self, connection: Connection) -> Recorded:
        """``alembic_version``'s revision(s), and what follows them in the history."""
        has_table, current = read_recorded_revision(connection)
        order = [info.revision for info in self.revisions()]
        known = current is None or all(rev in order for rev in current.split(","))
        # An unknown revision is not "behind": this history cannot say what it lacks.
        pending = self.pending_after(current) if known else []
        applied = [rev for rev in order if rev not in pending] if known and current else []
        unknown = [] if known or current is None else current.split(",")
        return Recorded(has_table, current, pending, known, applied, unknown=unknown)

    def create(self, message: str | None, *, allow_destructive: bool) -> MigrationCreated:
        """Alembic's autogenerate, without destructive operations unless asked."""
        from lumiku_ops.migrate.create import create_alembic

        return create_alembic(
            self.settings, message, cache_dir=self.cache_dir, allow_destructive=allow_destructive
        )

    def plan(self, **options: Any) -> MigrationPlan:
        """Alembic's offline SQL, one transaction per segment, with timeouts."""
        from lumiku_ops.migrate.plan import plan_alembic

        return plan_alembic(self.settings, **options)

    def apply(self, **options: Any) -> ApplyResult:
        """Alembic's upgrade, on lumiku-ops's own connection, under the lock."""
        from lumiku_ops.migrate.apply import apply_alembic

        return apply_alembic(self.settings, **options)

    def rollback(self, **options: Any) -> ApplyResult:
        """Alembic's downgrade, like apply."""
        from lumiku_ops.migrate.apply import rollback_alembic

        return rollback_alembic(self.settings, **options)
