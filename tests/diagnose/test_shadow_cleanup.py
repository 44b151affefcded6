"""The shadow server never outlives its owners, even ones killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lumiku_ops.db.scratch import SHADOW_PREFIX, drop_abandoned, owner_lock_key, shadow_database
from tests.utils.db import connect
from tests.utils.postgres import PostgresServer

START_SHADOW = """
from lumiku_ops.db.scratch import shadow_server
print(shadow_server().data_dir, flush=True)
import time
time.sleep(60)
"""


def servers_on(pgdata: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"]
        and "postgres" in p.info["cmdline"][0]
        and str(pgdata) in " ".join(p.info["cmdline"])
    ]


def _start_owner(cache: Path) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "LUMIKU_CACHE_DIR": str(cache)}
    owner = subprocess.Popen(
        [sys.executable, "-c", START_SHADOW], stdout=subprocess.PIPE, text=True, env=env
    )
    assert owner.stdout is not None
    return owner, Path(owner.stdout.readline().strip())


def _wait_until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)


def test_a_killed_owner_leaves_no_shadow_server_running_and_keeps_its_cache(
    tmp_path: Path,
) -> None:
    """The shadow server's folder is a cache (its replay templates), so it stays; the
    server itself never outlives its last owner, even one killed with SIGKILL."""
    owner, pgdata = _start_owner(tmp_path / "cache")
    assert pgdata.is_relative_to(tmp_path / "cache"), "not in the user's cache folder"
    assert servers_on(pgdata), "the shadow server did not start"
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=10)
    _wait_until(lambda: not servers_on(pgdata))
    assert servers_on(pgdata) == []
    assert (pgdata / "PG_VERSION").exists()
    # The next run starts it again from the same folder, without an initdb.
    again, same = _start_owner(tmp_path / "cache")
    try:
        assert same == pgdata and servers_on(pgdata)
    finally:
        again.send_signal(signal.SIGKILL)
        again.wait(timeout=10)
        _wait_until(lambda: not servers_on(pgdata))


def test_a_killed_owner_leaves_the_shadow_server_to_the_others_using_it(
    tmp_path: Path,
) -> None:
    first, pgdata = _start_owner(tmp_path / "cache")
    second, same = _start_owner(tmp_path / "cache")
    assert same == pgdata
    try:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(2)  # the watchdog polls every half second
        assert servers_on(pgdata), "stopped under a process still using it"
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=10)
    _wait_until(lambda: not servers_on(pgdata))
    assert servers_on(pgdata) == []


HOLD_SCRATCH = """
import sys, time
from sqlalchemy import text
from lumiku_ops.db.scratch import shadow_database
with shadow_database(sys.argv[1]) as connection:
    print(connection.execute(text("SELECT current_database()")).scalar(), flush=True)
    time.sleep(120)
"""


def _hold_scratch(shadow_url: str) -> tuple[subprocess.Popen[str], str]:
    owner = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRATCH, shadow_url], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    return owner, owner.stdout.readline().strip()


def _databases(server: PostgresServer, name: str, *, connected: bool = False) -> int:
    view = "pg_stat_activity" if connected else "pg_database"
    with connect(server.url_for("postgres")) as connection:
        query = text(f"SELECT count(*) FROM {view} WHERE datname = :name")
        return int(connection.execute(query, {"name": name}).scalar_one())


def test_a_killed_replays_scratch_database_is_dropped_by_the_next_run(
    pg_server: PostgresServer,
) -> None:
    shadow_url = pg_server.url_for("postgres")
    killed, abandoned = _hold_scratch(shadow_url)
    alive, in_use = _hold_scratch(shadow_url)
    try:
        assert abandoned.startswith(SHADOW_PREFIX) and in_use.startswith(SHADOW_PREFIX)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        deadline = time.monotonic() + 10  # the server notices the closed socket
        while time.monotonic() < deadline and _databases(pg_server, abandoned, connected=True):
            time.sleep(0.1)
        assert _databases(pg_server, abandoned) == 1, "the killed run's database was dropped"
        # Seconds old, not an hour: a later run drops it because its owner is gone.
        with shadow_database(shadow_url):
            pass
        assert _databases(pg_server, abandoned) == 0
        # The same sweep leaves the database of an owner that is alive.
        assert _databases(pg_server, in_use) == 1
    finally:
        for owner in (killed, alive):
            owner.kill()
            owner.wait(timeout=10)
        pg_server.drop_database(abandoned)
        pg_server.drop_database(in_use)


def test_a_sweep_leaves_a_scratch_database_whose_owner_holds_its_lock(
    pg_server: PostgresServer,
) -> None:
    name = f"{SHADOW_PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(conninfo(pg_server), autocommit=True)
    sweeper = psycopg.connect(conninfo(pg_server), autocommit=True)
    try:
        # An owner between its CREATE DATABASE and its first connection: only the lock.
        admin.execute("SELECT pg_advisory_lock(%s)", (owner_lock_key(name),))
        pg_server.create_database(name)
        assert name not in drop_abandoned(sweeper)
        admin.close()
        assert name in drop_abandoned(sweeper)
    finally:
        admin.close()
        sweeper.close()
        pg_server.drop_database(name)


def conninfo(server: PostgresServer) -> str:
    url = make_url(server.url_for("postgres"))
    host = url.query.get("host") or url.host
    return f"host={host} port={url.port or 5432} user={url.username} dbname=postgres" + (
        f" password={url.password}" if url.password else ""
    )


def test_a_cache_folder_that_cannot_hold_a_server_means_a_throwaway_one(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    owner, pgdata = _start_owner(blocker / "cache")  # mkdir fails: NotADirectoryError
    try:
        assert servers_on(pgdata), "no shadow server at all"
        assert not pgdata.is_relative_to(tmp_path)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
    _wait_until(lambda: not servers_on(pgdata) and not pgdata.parent.exists())
    assert servers_on(pgdata) == [] and not pgdata.parent.exists()
