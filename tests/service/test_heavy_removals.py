"""Heavy removals are bounded: matting at a capped working size, and a per-process limit.

The memory each removal takes is a figure, measured by ``bench/removal_throughput.py``;
these tests check the behaviour: full-resolution output at the upload limit, heavy
removals taking turns, and a 503 with ``Retry-After`` that charges and stores nothing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from service.models import BackgroundRemovalJob
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.db import connect
from tests.utils.factories import user_with_token
from tests.utils.images import photo_jpeg, subject_png
from tests.utils.service import RunningService
from tests.utils.worker import wait_for

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]


def media_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def jobs_of(url: str, user_id: str) -> list[Any]:
    with connect(url) as connection:
        return list(
            connection.execute(
                select(
                    BackgroundRemovalJob.id,
                    BackgroundRemovalJob.status,
                    BackgroundRemovalJob.createdAt,
                    BackgroundRemovalJob.completedAt,
                )
                .where(BackgroundRemovalJob.userId == user_id)
                .order_by(BackgroundRemovalJob.createdAt)
            ).all()
        )


def post_in_background(
    service: RunningService, token: str, image: bytes, tier: str
) -> tuple[threading.Thread, list[requests.Response]]:
    answers: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            service.post(
                "/api/background-remover/remove",
                token,
                files={"image": ("big.jpg", image, "image/jpeg")},
                data={"tier": tier},
                timeout=300,
            )
        )
    )
    thread.start()
    return thread, answers


def test_a_professional_removal_at_the_40_megapixel_limit_keeps_full_resolution(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="huge@lumiku.local", credits=100)
    width, height = 7300, 5479  # 39,996,700 pixels: just under the 40 MP limit
    response = service.post(
        "/api/background-remover/remove",
        token,
        files={"image": ("huge.jpg", photo_jpeg(width, height), "image/jpeg")},
        data={"tier": "professional"},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    job = response.json()["job"]
    assert job["status"] == "completed" and job["creditsUsed"] == 15
    cutout = Image.open(io.BytesIO(service.get(job["processedUrl"], token).content))
    assert cutout.mode == "RGBA" and cutout.size == (width, height)
    alpha = cutout.getchannel("A")
    for corner in [(5, 5), (width - 5, 5), (5, height - 5), (width - 5, height - 5)]:
        assert alpha.getpixel(corner) == 0, corner
    assert alpha.getpixel((width // 2, height // 2)) == 255
    # The subject's own colour, at full resolution: red inside the disc.
    red, green, blue, _ = cutout.getpixel((width // 2, height // 2))  # type: ignore[misc]
    assert red > 150 and green < 80 and blue < 80
    assert balance(service, token) == 85


def test_heavy_removals_beyond_the_limit_wait_their_turn(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(
        fresh_db, worker=False, LUMIKU_HEAVY_REMOVALS="1", LUMIKU_HEAVY_REMOVAL_WAIT="300"
    )
    account, token = user_with_token(fresh_db, JWT_SECRET, email="turns@lumiku.local", credits=100)
    image = photo_jpeg(2400, 1800)
    started = [post_in_background(service, token, image, "professional") for _ in range(2)]
    for thread, _ in started:
        thread.join(timeout=300)
    assert [answers[0].status_code for _, answers in started] == [200, 200]
    first, second = jobs_of(fresh_db, account.user_id)
    assert first.status == second.status == "completed"
    # One slot: the second removal is charged and started only once the first has ended.
    assert second.createdAt >= first.completedAt
    assert balance(service, token) == 70


def test_a_heavy_removal_finding_no_slot_is_a_503_that_charges_and_stores_nothing(
    fresh_db: str, start_remover: Callable[..., RunningService], tmp_path: Path
) -> None:
    service = start_remover(
        fresh_db, worker=False, LUMIKU_HEAVY_REMOVALS="1", LUMIKU_HEAVY_REMOVAL_WAIT="0.5"
    )
    account, token = user_with_token(fresh_db, JWT_SECRET, email="busy@lumiku.local", credits=100)
    media = tmp_path / "media"
    thread, answers = post_in_background(service, token, photo_jpeg(2400, 1800), "professional")
    # The first removal holds the only slot once its job exists (it is charged in the slot).
    wait_for(lambda: len(jobs_of(fresh_db, account.user_id)) == 1, timeout=120, step=0.02)
    (first,) = jobs_of(fresh_db, account.user_id)

    refused = remove(service, token, subject_png(), "industry")
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "1"
    assert set(refused.json()) == {"error"} and "busy" in refused.json()["error"]
    assert balance(service, token) == 85  # only the first removal is charged
    # Every stored file is the first job's (its original, then its outputs; a temporary
    # file is one of its outputs being written).
    others = [path.name for path in media_files(media) if first.id not in path.name]
    assert [name for name in others if not name.startswith(".tmp-")] == []

    thread.join(timeout=300)
    assert answers[0].status_code == 200, answers[0].text
    again = remove(service, token, subject_png(), "industry")
    assert again.status_code == 200, again.text
    assert balance(service, token) == 60
    assert len(jobs_of(fresh_db, account.user_id)) == 2
