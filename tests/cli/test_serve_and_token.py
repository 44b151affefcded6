"""``lumiku-ops serve`` and ``token`` as an operator runs them: exit codes and messages."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import jwt
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import JWT_SECRET
from tests.utils.cli import lumiku as run_cli
from tests.utils.db import connect, upgrade
from tests.utils.factories import user_with_token
from tests.utils.service import start_service
from tests.utils.worker import wait_for


def assert_clean_error(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for phrase in phrases:
        assert phrase in result.stderr


@pytest.mark.parametrize(
    ("secret", "phrase"),
    [("changethis", "placeholder"), ("short-but-random-9f3c", "at least 32")],
)
def test_serve_refuses_an_unsafe_secret(secret: str, phrase: str) -> None:
    result = run_cli(
        "serve", "--database-url", "postgresql://u:p@127.0.0.1:1/db", LUMIKU_JWT_SECRET=secret
    )
    assert_clean_error(result, phrase)
    assert secret not in result.stderr


def test_serve_refuses_to_run_without_a_secret_on_a_real_database() -> None:
    result = run_cli("serve", "--database-url", "postgresql://u:p@127.0.0.1:1/db")
    assert_clean_error(result, "LUMIKU_JWT_SECRET is not set")


def test_serve_says_when_the_port_is_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli(
            "serve",
            "--database-url",
            "postgresql://u:p@127.0.0.1:1/db",
            "--port",
            str(port),
            LUMIKU_JWT_SECRET=JWT_SECRET,
        )
    assert_clean_error(result, f"127.0.0.1:{port}", "--port")


def test_a_non_postgres_url_is_refused() -> None:
    result = run_cli(
        "token", "--database-url", "mysql://root@localhost/db", LUMIKU_JWT_SECRET=JWT_SECRET
    )
    assert_clean_error(result, "only PostgreSQL")


@pytest.mark.db
def test_token_prints_only_a_jwt_for_a_user_with_that_balance(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    result = run_cli(
        "token",
        "--database-url",
        fresh_db,
        "--email",
        "ops@lumiku.local",
        "--credits",
        "1092",
        LUMIKU_JWT_SECRET=JWT_SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"])
    assert claims["email"] == "ops@lumiku.local"

    again = run_cli(
        "token",
        "--database-url",
        fresh_db,
        "--email",
        "ops@lumiku.local",
        LUMIKU_JWT_SECRET=JWT_SECRET,
    )
    same_user = jwt.decode(again.stdout.strip(), JWT_SECRET, algorithms=["HS256"])["userId"]
    assert same_user == claims["userId"]


@pytest.mark.db
def test_token_on_a_database_without_tables_says_what_to_do(fresh_db: str) -> None:
    result = run_cli("token", "--database-url", fresh_db, LUMIKU_JWT_SECRET=JWT_SECRET)
    assert_clean_error(result, "alembic upgrade 0001")


def test_token_on_a_dead_database_hides_the_password() -> None:
    result = run_cli(
        "token",
        "--database-url",
        "postgresql://ops:s3cr3t-pw@127.0.0.1:1/prod",
        LUMIKU_JWT_SECRET=JWT_SECRET,
    )
    assert_clean_error(result, "127.0.0.1")
    assert "s3cr3t-pw" not in result.stderr + result.stdout


@pytest.mark.db
@pytest.mark.http
def test_the_started_service_keeps_its_database_password_out_of_ps(
    fresh_db: str, tmp_path: Path
) -> None:
    # A command line is readable by every user (ps, /proc/PID/cmdline) for the whole life
    # of the process; the password travels in the environment instead.
    password = "Ps-Visible-Pw-5519"
    url = make_url(fresh_db).set(password=password).render_as_string(hide_password=False)
    upgrade(fresh_db, "head")
    service = start_service(url, jwt_secret=JWT_SECRET, log_file=tmp_path / "s.log", worker=False)
    try:
        assert service.get("/health").status_code == 200
        cmdline = Path(f"/proc/{service.process.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert b"serve" in cmdline
        assert password.encode() not in cmdline
    finally:
        service.stop()


def test_several_api_processes_share_the_port_and_stop_together(
    fresh_db: str, tmp_path: Path
) -> None:
    password = "Ps-Visible-Pw-7731"
    url = make_url(fresh_db).set(password=password).render_as_string(hide_password=False)
    upgrade(fresh_db, "head")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="processes@lumiku.local", credits=7)
    service = start_service(
        url, jwt_secret=JWT_SECRET, log_file=tmp_path / "s.log", worker=False, processes=2
    )
    try:
        for _ in range(10):
            response = service.get("/api/credits/balance", token)
            assert response.json() == {"success": True, "data": {"balance": 7}}

        def started() -> set[int]:
            # Each API process logs its start-up under its own pid.
            ready = "Application startup complete."
            return {r["process"] for r in service.log_records() if r["message"] == ready}

        wait_for(lambda: len(started()) == 2, timeout=20)
        children = psutil.Process(service.process.pid).children()
        assert started() <= {child.pid for child in children}
        for process in [service.process, *children]:
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
            assert password.encode() not in cmdline and JWT_SECRET.encode() not in cmdline
    finally:
        service.stop()
    assert service.process.returncode is not None
    # The API processes end with it (the resource tracker may take a moment longer).
    _, alive = psutil.wait_procs(children, timeout=10)
    assert [child.cmdline() for child in alive] == []


def test_the_batch_worker_waits_for_the_queue_tables_then_starts(
    fresh_db: str, tmp_path: Path
) -> None:
    # Served before any revision: the API answers, and the worker waits for its tables
    # instead of dying with a traceback; once the migrations land it starts by itself.
    log = tmp_path / "s.log"
    service = start_service(fresh_db, jwt_secret=JWT_SECRET, log_file=log, worker=True)
    try:
        waiting = "batch worker waiting for the job queue's tables (run 'lumiku-ops migrate apply')"
        wait_for(lambda: any(r["message"] == waiting for r in service.log_records()), timeout=20)
        upgrade(fresh_db, "head")

        def registered() -> bool:
            with connect(fresh_db) as connection:
                return bool(connection.scalar(text("SELECT count(*) FROM procrastinate_workers")))

        wait_for(registered, timeout=30)
    finally:
        service.stop()
    stderr = log.with_name(log.name + ".stderr").read_text()
    assert "Traceback" not in stderr and "Traceback" not in log.read_text()
