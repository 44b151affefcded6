"""Replay points kept on the shadow server, so a history that grew replays only what is new.

After a replay, the scratch database (the history at its head) is renamed to a template
database named by the history's key, ``lumiku_replay_<key>``. A later replay of the same
history plus new revisions takes it over (renamed back to a scratch name) and runs only
the new revisions, then keeps the new head the same way. Templates never hold data of the
target, only what the revisions create on an empty database; the newest few are kept and
older ones dropped.
Everything here is an optimisation: any failure means a full replay, never an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection

from lumiku_ops.db.scratch import _admin, connected, scratch_on

TEMPLATE_PREFIX = "lumiku_replay_"
KEEP_TEMPLATES = 6
_KEY_CHARS = 40  # PostgreSQL names are at most 63 bytes
_RENAME_TRIES = 50  # 10 ms apart: a closed session's backend takes a moment to exit


def template_name(key: str) -> str:
    """The template database holding the history whose key is ``key``."""
    return f"{TEMPLATE_PREFIX}{key[:_KEY_CHARS]}"


def newest_template(shadow_url: str, keys: Sequence[str]) -> int | None:
    """The index in ``keys`` of the latest point kept as a template, if any."""
    from psycopg import Error

    names = [template_name(key) for key in keys]
    try:
        with _admin(shadow_url) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,)
            ).fetchall()
    except Error:
        return None
    found = {row[0] for row in rows}
    return max((i for i, name in enumerate(names) if name in found), default=None)


@contextmanager
def scratch_from_template(shadow_url: str, key: str) -> Iterator[Connection]:
    """The template of ``key``, taken over as a scratch database and dropped afterwards
    unless ``keep_as_template`` makes it a template again.

    Renamed like every scratch database, so a run killed meanwhile leaves nothing that the
    sweep of abandoned scratch databases would not drop.

    Raises:
        TemplateUnavailable: another run took the template, or it was dropped meanwhile.
    """
    with scratch_on(shadow_url, template=template_name(key)) as url, connected(url) as connection:
        yield connection


def keep_as_template(shadow_url: str, connection: Connection, key: str) -> None:
    """Make the scratch database behind ``connection`` (closed first) the template of
    ``key``: renamed, not copied, so keeping a point costs no copy and no drop (the scratch
    owner's ``DROP DATABASE IF EXISTS`` then finds nothing)."""
    from psycopg import Error, errors, sql

    source = connection.engine.url.database
    connection.close()
    connection.engine.dispose()
    if not source:
        return
    rename = sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
        sql.Identifier(source), sql.Identifier(template_name(key))
    )
    try:
        with _admin(shadow_url) as conn:
            for _ in range(_RENAME_TRIES):
                try:
                    conn.execute(rename)
                    break
                except errors.ObjectInUse:  # our backend is still exiting
                    time.sleep(0.01)
            _drop_oldest(conn)
    except Error:
        pass  # it exists already (a concurrent run), or the role may not: a later full replay


def _drop_oldest(conn: object) -> None:
    from psycopg import Error, sql

    rows = conn.execute(  # type: ignore[attr-defined]
        "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY oid DESC",
        (TEMPLATE_PREFIX.replace("_", r"\_") + "%",),
    ).fetchall()
    for (name,) in rows[KEEP_TEMPLATES:]:
        try:
            conn.execute(  # type: ignore[attr-defined]
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            )
        except Error:
            pass  # being cloned right now: dropped by a later run
