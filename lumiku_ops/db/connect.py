"""Which database a command talks to."""

from __future__ import annotations

from lumiku_ops.db.embedded import start_embedded
from lumiku_ops.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started if needed)."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.lumiku_dir / "pgdata").url()
