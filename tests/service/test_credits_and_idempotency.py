"""Credits under concurrency, idempotent retries, and bad uploads that charge nothing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from service.models import Credit
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.db import connect
from tests.utils.factories import user_with_token
from tests.utils.images import (
    decompression_bomb,
    oversized_upload,
    subject_png,
    truncated_png,
)
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]


def ledger(url: str, user_id: str) -> list[Credit]:
    with connect(url) as connection:
        return list(
            connection.execute(
                select(Credit).where(Credit.userId == user_id).order_by(Credit.createdAt)
            ).all()
        )


def test_fifty_concurrent_removals_on_a_balance_for_ten(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="rush@lumiku.local", credits=30)
    image = subject_png(96)
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: remove(service, token, image), range(50)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 10, statuses
    assert statuses.count(402) == 40, statuses
    assert balance(service, token) == 0
    rows = ledger(fresh_db, account.user_id)
    assert min(row.balance for row in rows) == 0
    assert [row.balance for row in rows] == [30 - 3 * n for n in range(11)]


def test_a_retry_with_the_same_idempotency_key_charges_once(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="retry@lumiku.local", credits=20)
    image = subject_png(96)
    first = remove(service, token, image, **{"Idempotency-Key": "order-42"})
    again = remove(service, token, image, **{"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert balance(service, token) == 17
    other = remove(service, token, subject_png(64), **{"Idempotency-Key": "order-42"})
    assert other.status_code == 422
    assert len(service.get("/api/background-remover/jobs", token).json()["jobs"]) == 1


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"this is not an image at all", "image/png"),
        (oversized_upload(), "image/png"),
        (decompression_bomb(), "image/png"),
        (truncated_png(), "image/png"),
        (b"GIF89a" + b"\x00" * 64, "image/gif"),
    ],
    ids=["not-an-image", "too-large", "decompression-bomb", "truncated", "gif"],
)
def test_bad_uploads_get_400_and_charge_nothing(
    fresh_db: str,
    start_remover: Callable[..., RunningService],
    payload: bytes,
    content_type: str,
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="bad@lumiku.local", credits=10)
    response = service.post(
        "/api/background-remover/remove",
        token,
        files={"image": ("x.png", payload, content_type)},
        data={"tier": "basic"},
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    batch = service.post(
        "/api/background-remover/batch",
        token,
        files={"images[0]": ("x.png", payload, content_type)},
        data={"tier": "basic"},
    )
    assert batch.status_code == 400, batch.text
    assert balance(service, token) == 10
    assert service.get("/api/background-remover/jobs", token).json() == {"jobs": []}


def test_missing_fields_are_400s(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="fields@lumiku.local", credits=10)
    url = "/api/background-remover/remove"
    no_image = service.post(url, token, data={"tier": "basic"}, files={"other": ("a", b"a")})
    assert no_image.json() == {"error": "No image file provided"}
    bad_tier = service.post(
        url, token, files={"image": ("a.png", subject_png(32))}, data={"tier": "pro"}
    )
    assert (bad_tier.status_code, bad_tier.json()) == (400, {"error": "Invalid tier"})
    no_files = service.post(
        "/api/background-remover/batch", token, data={"tier": "basic"}, files={"x": ("a", b"a")}
    )
    assert (no_files.status_code, no_files.json()) == (400, {"error": "No files provided"})
