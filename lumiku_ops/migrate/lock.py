"""The advisory lock that keeps two operators from migrating one database at once.

It is a session-level lock: it is released when the holder unlocks, disconnects or dies,
so a killed apply never leaves the database locked.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from lumiku_ops.errors import MigrationLockedError

LOCK_KEY = 0x6C756D696B75  # "lumiku": one key per database, shared by every lumiku-ops


def acquire_migration_lock(connection: Connection, *, wait: bool, key: int = LOCK_KEY) -> None:
    """Take the session-level advisory lock, or fail naming who holds it.

    ``key`` is another tool's lock to take as well (Prisma's, which ``prisma migrate
    deploy`` holds while it runs).

    Raises:
        MigrationLockedError: another session holds it and ``wait`` is false.
    """
    if wait:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
    elif not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
        holder = connection.execute(
            text(
                "SELECT a.pid, a.application_name, a.usename,"
                " to_char(a.backend_start AT TIME ZONE 'UTC', 'HH24:MI:SS')"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"
            ),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
        ).first()
        who = (
            f"pid {holder[0]}, '{holder[1]}' as {holder[2]}, connected since {holder[3]} UTC"
            if holder
            else "another session"
        )
        connection.rollback()
        raise MigrationLockedError(
            f"another migration holds the lock on this database ({who}); "
            "wait for it to finish, or re-run with --wait"
        )
    connection.commit()


def release_migration_lock(connection: Connection, key: int = LOCK_KEY) -> None:
    """Give the lock back (a no-op when this session does not hold it).

    An open transaction is rolled back first: the commit that ends the unlock must never
    commit half a migration that failed on its way here.
    """
    if connection.invalidated or connection.closed:
        return  # the session is gone, and its lock with it
    if connection.in_transaction():
        connection.rollback()
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    connection.commit()
