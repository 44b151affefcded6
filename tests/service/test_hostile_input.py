"""Hostile or clumsy input is a 400 (or a normal answer), never a 500.

NUL bytes cannot be stored in PostgreSQL text, JSON nested a thousand deep exhausts the
parser's recursion, and a one-pixel image starves alpha matting: each used to reach the
database, the parser or the matting code and come back as a 500.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.factories import add, subscription, user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]

PREFIX = "/api/background-remover"
DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "path",
    [
        f"{PREFIX}/jobs/%00",
        f"{PREFIX}/batch/%00",
        f"{PREFIX}/batch/a%00b/download",
        "/storage/background-remover/uploads/%00",
        "/storage/background-remover/outputs/x%00.png",
    ],
)
def test_a_nul_byte_in_a_path_is_a_400(
    fresh_db: str, start_remover: Callable[..., RunningService], path: str
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="nul@lumiku.local")
    response = service.get(path, token)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "Invalid request: NUL byte in the URL"}


def test_nul_bytes_and_deep_nesting_in_json_are_400s(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="json@lumiku.local")
    lapsed, lapsed_token = user_with_token(
        fresh_db, JWT_SECRET, email="lapsed@lumiku.local", credits=300_000
    )
    # Subscriptions in the states where a reason (active) or a payment id (cancelled,
    # so renewed) would be written to the database.
    add(fresh_db, subscription(account.user_id))
    add(fresh_db, subscription(lapsed.user_id, status="cancelled"))
    nul_payment = service.post(
        f"{PREFIX}/subscription", lapsed_token, json={"plan": "pro", "paymentId": "pay\u0000"}
    )
    assert nul_payment.status_code == 400, nul_payment.text
    assert nul_payment.json() == {"error": "Invalid JSON body: strings cannot contain NUL"}
    nul_reason = service.delete(f"{PREFIX}/subscription", token, json={"reason": "x\u0000y"})
    assert nul_reason.status_code == 400, nul_reason.text
    assert nul_reason.json() == {"error": "Invalid JSON body: strings cannot contain NUL"}
    nul_key = service.post(
        f"{PREFIX}/pricing/calculate", token, json={"totalImages": 2, "tier": "basic", "\u0000": 1}
    )
    assert nul_key.status_code == 400, nul_key.text

    for method, path in [
        ("post", f"{PREFIX}/pricing/calculate"),
        ("post", f"{PREFIX}/subscription"),
        ("delete", f"{PREFIX}/subscription"),
    ]:
        call = getattr(service, method)
        response = call(path, token, data=DEEP)
        assert response.status_code == 400, (method, path, response.text)
        assert response.json() == {"error": "Invalid JSON body: nested too deeply"}, path

    # None of it changed a subscription or charged anything.
    sub = service.get(f"{PREFIX}/subscription", token).json()["subscription"]
    assert (sub["status"], sub["cancelReason"]) == ("active", None)
    renewed = service.get(f"{PREFIX}/subscription", lapsed_token).json()["subscription"]
    assert (renewed["status"], renewed["lastPaymentId"]) == ("cancelled", None)
    assert balance(service, lapsed_token) == 300_000


@pytest.mark.parametrize(("tier", "price"), [("professional", 15), ("industry", 25)])
def test_a_one_pixel_image_is_removed_at_the_matting_tiers(
    fresh_db: str, start_remover: Callable[..., RunningService], tier: str, price: int
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="tiny@lumiku.local", credits=40)
    response = remove(service, token, subject_png(1), tier)
    assert response.status_code == 200, response.text
    job = response.json()["job"]
    assert (job["status"], job["tier"], job["creditsUsed"]) == ("completed", tier, price)
    cutout = service.get(job["processedUrl"], token)
    assert cutout.status_code == 200 and cutout.content.startswith(b"\x89PNG")
    assert balance(service, token) == 40 - price
