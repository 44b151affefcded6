"""Batches on the procrastinate queue: progress, ZIP, refunds, and a worker killed mid-batch."""

from __future__ import annotations

import io
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.models import BackgroundRemovalJob, Credit
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance
from tests.utils.db import connect
from tests.utils.factories import user_with_token
from tests.utils.images import alpha_at, subject_png
from tests.utils.service import RunningService
from tests.utils.worker import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]
PREFIX = "/api/background-remover"
FINAL = {"completed", "partial", "failed"}


@pytest.fixture
def workers() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for process in started:
        stop_worker(process)


def post_batch(service: RunningService, token: str, count: int, **headers: str) -> Any:
    files = [
        (f"images[{i}]", (f"shot {i}.png", subject_png(128), "image/png")) for i in range(count)
    ]
    return service.post(
        f"{PREFIX}/batch", token, files=files, data={"tier": "basic"}, headers=headers
    )


def batch_state(service: RunningService, token: str, batch_id: str) -> dict[str, Any]:
    response = service.get(f"{PREFIX}/batch/{batch_id}", token)
    assert response.status_code == 200, response.text
    return dict(response.json()["batch"])


def charges(url: str, user_id: str) -> list[Any]:
    with connect(url) as connection:
        return list(
            connection.execute(
                select(Credit.type, Credit.amount)
                .where(Credit.userId == user_id, Credit.type != "bonus")
                .order_by(Credit.createdAt)
            ).all()
        )


def zip_names(service: RunningService, token: str, batch_id: str) -> list[str]:
    download = service.get(f"{PREFIX}/batch/{batch_id}/download", token).json()
    archive = service.get(download["zipUrl"], token)
    assert archive.status_code == 200 and len(archive.content) == download["zipSize"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        first = zipped.read(zipped.namelist()[0])
        assert alpha_at(first, (1, 1)) == 0 and alpha_at(first, (64, 64)) >= 250
        return zipped.namelist()


def test_a_batch_runs_on_the_serve_processes_worker(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="batch@lumiku.local", credits=100)
    response = post_batch(service, token, 3)
    assert response.status_code == 200, response.text
    started = response.json()
    assert started["message"] == "Batch processing started"
    batch_id = started["batch"]["id"]
    assert started["batch"] == {"id": batch_id, "totalImages": 3, "status": "pending"}
    assert balance(service, token) == 91

    wait_for(lambda: batch_state(service, token, batch_id)["status"] in FINAL)
    batch = batch_state(service, token, batch_id)
    assert batch["status"] == "completed" and batch["processedImages"] == 3
    assert batch["progressPercentage"] == 100 and batch["zipGenerated"] is True
    assert [job["itemIndex"] for job in batch["jobs"]] == [0, 1, 2]
    assert all(job["status"] == "completed" for job in batch["jobs"])
    assert zip_names(service, token, batch_id) == ["image_1.png", "image_2.png", "image_3.png"]
    assert len(charges(fresh_db, account.user_id)) == 1


def test_failed_items_are_refunded_and_the_batch_is_partial(
    fresh_db: str,
    start_remover: Callable[..., RunningService],
    model_home: Path,
    tmp_path: Path,
    workers: list[Any],
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="refund@lumiku.local", credits=30)
    batch_id = post_batch(service, token, 3).json()["batch"]["id"]
    jobs = batch_state(service, token, batch_id)["jobs"]
    media = tmp_path / "media"
    # The original of item 1 disappears before any worker runs: that item must fail.
    (media / jobs[1]["originalUrl"].removeprefix("/storage/")).unlink()

    workers.append(start_worker(fresh_db, model_home=model_home, media_root=media))
    wait_for(lambda: batch_state(service, token, batch_id)["status"] in FINAL)
    batch = batch_state(service, token, batch_id)
    assert (batch["status"], batch["processedImages"], batch["failedImages"]) == ("partial", 2, 1)
    assert [job["status"] for job in batch["jobs"]] == ["completed", "failed", "completed"]
    assert zip_names(service, token, batch_id) == ["image_1.png", "image_3.png"]
    refunds = [row for row in charges(fresh_db, account.user_id) if row.type == "refund"]
    assert [row.amount for row in refunds] == [3]
    assert balance(service, token) == 30 - 9 + 3


def test_a_worker_killed_mid_batch_loses_nothing_and_charges_once(
    fresh_db: str,
    start_remover: Callable[..., RunningService],
    model_home: Path,
    tmp_path: Path,
    workers: list[Any],
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="kill@lumiku.local", credits=100)
    batch_id = post_batch(service, token, 8, **{"Idempotency-Key": "kill-1"}).json()["batch"]["id"]
    media = tmp_path / "media"

    first = start_worker(fresh_db, model_home=model_home, media_root=media)
    workers.append(first)
    wait_for(lambda: batch_state(service, token, batch_id)["processedImages"] >= 2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = batch_state(service, token, batch_id)
    assert killed_at["status"] == "processing" and killed_at["processedImages"] < 8

    workers.append(start_worker(fresh_db, model_home=model_home, media_root=media))
    wait_for(lambda: batch_state(service, token, batch_id)["status"] in FINAL)
    batch = batch_state(service, token, batch_id)
    assert (batch["status"], batch["processedImages"], batch["failedImages"]) == ("completed", 8, 0)
    assert all(job["status"] == "completed" for job in batch["jobs"])
    assert len(zip_names(service, token, batch_id)) == 8
    # A retried POST with the same key replays the first answer; still one charge.
    again = post_batch(service, token, 8, **{"Idempotency-Key": "kill-1"})
    assert again.json()["batch"]["id"] == batch_id
    assert [row.amount for row in charges(fresh_db, account.user_id)] == [-24]
    assert balance(service, token) == 76
    with connect(fresh_db) as connection:
        done = connection.execute(
            select(BackgroundRemovalJob.completedAt).where(
                BackgroundRemovalJob.userId == account.user_id
            )
        ).scalars()
        assert all(value is not None for value in done)


def test_another_users_job_batch_and_files_are_404(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, owner = user_with_token(fresh_db, JWT_SECRET, email="owner@lumiku.local", credits=50)
    _, other = user_with_token(fresh_db, JWT_SECRET, email="other@lumiku.local", credits=50)
    job = service.post(
        f"{PREFIX}/remove",
        owner,
        files={"image": ("a.png", subject_png(96))},
        data={"tier": "basic"},
    ).json()["job"]
    batch_id = post_batch(service, owner, 1).json()["batch"]["id"]

    assert service.get(f"{PREFIX}/jobs/{job['id']}", other).json() == {"error": "Job not found"}
    assert service.get(f"{PREFIX}/jobs/{job['id']}", other).status_code == 404
    assert service.get(f"{PREFIX}/batch/{batch_id}", other).json() == {"error": "Batch not found"}
    assert service.get(f"{PREFIX}/batch/{batch_id}/download", other).status_code == 404
    for url in (job["originalUrl"], job["processedUrl"], job["thumbnailUrl"]):
        assert service.get(url, other).status_code == 404
        assert service.get(url, owner).status_code == 200
    assert service.get(f"{PREFIX}/jobs/unknown", owner).status_code == 404
    assert service.get(f"{PREFIX}/batch/unknown/download", owner).status_code == 404
    assert service.get(f"{PREFIX}/batch/{batch_id}/download", owner).json() == {
        "error": "ZIP file not yet generated"
    }
    assert (
        service.get("/storage/background-remover/uploads/..%2F..%2Fetc", owner).status_code == 404
    )
