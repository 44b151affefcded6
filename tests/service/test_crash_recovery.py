"""A service killed mid-removal: every job ends final, and a key is charged at most once.

The service is a real ``lumiku-ops serve`` process, killed with SIGKILL while rembg is
working on a professional-tier image, on a real PostgreSQL.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.db import make_engine
from service.models import BackgroundRemovalJob, Credit, new_id
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.db import connect, upgrade
from tests.utils.factories import add, job, user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService
from tests.utils.worker import wait_for

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]
PREFIX = "/api/background-remover"
KEY = {"Idempotency-Key": "order-7"}
# What a caller reads on a failed job: a sentence, never the exception.
REMOVAL_FAILED = "Background removal failed; nothing was charged"
REMOVAL_INTERRUPTED = "Background removal was interrupted; nothing was charged"
# Professional matting on 800x800 takes seconds: long enough to be killed in the middle.
SLOW_IMAGE = subject_png(800)


def single_jobs(url: str, user_id: str) -> list[Any]:
    with connect(url) as connection:
        return list(
            connection.execute(
                select(BackgroundRemovalJob)
                .where(BackgroundRemovalJob.userId == user_id)
                .order_by(BackgroundRemovalJob.createdAt)
            ).all()
        )


def ledger_balance(url: str, user_id: str) -> int:
    with connect(url) as connection:
        latest = connection.scalar(
            select(Credit.balance)
            .where(Credit.userId == user_id)
            .order_by(Credit.createdAt.desc(), Credit.id.desc())
            .limit(1)
        )
    return int(latest or 0)


def remove_quietly(service: RunningService, token: str, **headers: str) -> int | None:
    """The status of a removal, or None when the service died before answering."""
    try:
        return remove(service, token, SLOW_IMAGE, "professional", **headers).status_code
    except requests.ConnectionError:
        return None


def kill(service: RunningService) -> None:
    service.process.send_signal(signal.SIGKILL)
    service.process.wait(timeout=10)


def test_a_removal_killed_midway_is_refunded_at_restart_and_its_key_charges_once(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="crash@lumiku.local", credits=100)
    with ThreadPoolExecutor(max_workers=2) as pool:
        plain = pool.submit(remove_quietly, service, token)
        keyed = pool.submit(remove_quietly, service, token, **KEY)
        wait_for(lambda: len(single_jobs(fresh_db, account.user_id)) == 2, timeout=60, step=0.02)
        # While the first request with the key runs, a retry is told to wait.
        busy = remove(service, token, SLOW_IMAGE, "professional", **KEY)
        kill(service)
        assert (busy.status_code, busy.json()) == (
            409,
            {"error": "A request with this Idempotency-Key is still being processed"},
        )
        assert plain.result() is None and keyed.result() is None
    interrupted = single_jobs(fresh_db, account.user_id)
    assert [(row.status, row.creditsUsed) for row in interrupted] == [("processing", 15)] * 2
    assert ledger_balance(fresh_db, account.user_id) == 70

    restarted = start_remover(fresh_db, worker=False)
    # The key's first request is dead: the retry runs now, and the key costs 15 in all.
    retry = remove(restarted, token, SLOW_IMAGE, "professional", **KEY)
    assert retry.status_code == 200, retry.text
    retried = retry.json()["job"]
    assert (retried["status"], retried["creditsUsed"]) == ("completed", 15)
    assert retried["id"] not in {row.id for row in interrupted}

    # The start-up sweep settles the other one; nothing stays "processing".
    def settled() -> bool:
        rows = single_jobs(fresh_db, account.user_id)
        return all(row.status in ("completed", "failed") for row in rows)

    wait_for(settled, timeout=30)
    for row in interrupted:
        body = restarted.get(f"{PREFIX}/jobs/{row.id}", token).json()["job"]
        assert (body["status"], body["creditsUsed"], body["errorMessage"]) == (
            "failed",
            0,
            REMOVAL_INTERRUPTED,
        )
        assert body["completedAt"] is not None
    assert balance(restarted, token) == 85

    again = remove(restarted, token, SLOW_IMAGE, "professional", **KEY)
    assert (again.status_code, again.json()) == (200, retry.json())
    assert balance(restarted, token) == 85
    with connect(fresh_db) as connection:
        refunds = connection.execute(
            select(Credit.amount, Credit.referenceId).where(
                Credit.userId == account.user_id, Credit.type == "refund"
            )
        ).all()
    assert sorted(tuple(row) for row in refunds) == sorted((15, row.id) for row in interrupted)


def test_a_live_peer_refunds_a_dead_peers_removal_without_a_restart(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    doomed = start_remover(fresh_db, worker=False, LUMIKU_RECOVERY_INTERVAL="0.5")
    peer = start_remover(fresh_db, worker=False, LUMIKU_RECOVERY_INTERVAL="0.5")
    account, token = user_with_token(fresh_db, JWT_SECRET, email="peer@lumiku.local", credits=30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(remove_quietly, doomed, token)
        wait_for(lambda: len(single_jobs(fresh_db, account.user_id)) == 1, timeout=60, step=0.02)
        kill(doomed)
        assert pending.result() is None
    (row,) = single_jobs(fresh_db, account.user_id)
    assert (row.status, ledger_balance(fresh_db, account.user_id)) == ("processing", 15)

    wait_for(lambda: single_jobs(fresh_db, account.user_id)[0].status == "failed", timeout=20)
    body = peer.get(f"{PREFIX}/jobs/{row.id}", token).json()["job"]
    assert (body["status"], body["creditsUsed"], body["errorMessage"]) == (
        "failed",
        0,
        REMOVAL_INTERRUPTED,
    )
    assert balance(peer, token) == 30
    log = [record for record in peer.log_records() if record.get("job_id") == row.id]
    assert [record["message"] for record in log] == ["interrupted removal failed and refunded"]


def test_recovery_leaves_work_whose_lease_is_held_alone(fresh_db: str) -> None:
    from service.leases import JOB_LEASE, lease
    from service.single_removal import recover_interrupted_removals

    upgrade(fresh_db, "head")
    account, _ = user_with_token(fresh_db, JWT_SECRET, email="lease@lumiku.local", credits=10)
    engine = make_engine(fresh_db)
    factory: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
    job_id = new_id()
    try:
        with lease(engine) as held:
            held.hold(JOB_LEASE, job_id)
            add(
                fresh_db,
                job(account.user_id, id=job_id, status="processing", creditsUsed=3),
                Credit(userId=account.user_id, amount=-3, balance=7, type="usage"),
            )
            assert recover_interrupted_removals(factory) == 0
            assert single_jobs(fresh_db, account.user_id)[0].status == "processing"
        # The holder let go without finishing, as a dead process does.
        assert recover_interrupted_removals(factory) == 1
        assert recover_interrupted_removals(factory) == 0
    finally:
        engine.dispose()
    (row,) = single_jobs(fresh_db, account.user_id)
    assert (row.status, row.creditsUsed, row.errorMessage) == ("failed", 0, REMOVAL_INTERRUPTED)
    assert ledger_balance(fresh_db, account.user_id) == 10


def test_a_failed_job_shows_no_charge_and_no_internals(
    fresh_db: str, start_remover: Callable[..., RunningService], tmp_path: Path
) -> None:
    service = start_remover(fresh_db)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="fail@lumiku.local", credits=20)
    # The cut-outs' folder is a file: every removal fails after it was charged.
    folder = tmp_path / "media" / "background-remover"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "outputs").write_bytes(b"not a folder")

    failed = remove(service, token, subject_png(96))
    assert failed.status_code == 500
    assert set(failed.json()) == {"error", "requestId"}
    (listed,) = service.get(f"{PREFIX}/jobs", token).json()["jobs"]
    assert (listed["status"], listed["creditsUsed"], listed["errorMessage"]) == (
        "failed",
        0,
        REMOVAL_FAILED,
    )
    assert balance(service, token) == 20
    # The detail is kept for the operator, under the job's id.
    logged = [r for r in service.log_records() if r.get("job_id") == listed["id"]]
    assert any("FileExistsError" in r.get("exc_info", "") for r in logged), logged

    files = [("images[0]", ("a.png", subject_png(96), "image/png"))]
    started = service.post(f"{PREFIX}/batch", token, files=files, data={"tier": "basic"})
    assert started.status_code == 200, started.text
    batch_id = started.json()["batch"]["id"]

    def batch() -> dict[str, Any]:
        return dict(service.get(f"{PREFIX}/batch/{batch_id}", token).json()["batch"])

    wait_for(lambda: batch()["status"] == "failed", timeout=60)
    (item,) = batch()["jobs"]
    assert (item["status"], item["creditsUsed"]) == ("failed", 0)
    assert item["errorMessage"] == "Background removal failed; this image was not charged"
    assert balance(service, token) == 20
