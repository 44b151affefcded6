"""Hostile or clumsy input is a 400 (or a normal answer), never a 500.

NUL bytes cannot be stored in PostgreSQL text, JSON nested a thousand deep exhausts the
parser's recursion, a one-pixel image starves alpha matting, and a user id with a ``/``
cannot name a file: each used to reach the database, the parser, the matting code or the
media store and come back as a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from lumiku_ops.errors import LumikuOpsError
from lumiku_ops.reference.accounts import ensure_account
from service.auth import create_token
from service.models import Credit, User
from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.db import connect
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


def test_a_user_id_that_cannot_name_a_file_is_refused_where_it_enters(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    with pytest.raises(ValueError, match="user id"):
        create_token(user_id="a/b", email="a@lumiku.local", secret=JWT_SECRET)
    with pytest.raises(LumikuOpsError, match="user id"):
        ensure_account(fresh_db, user_id="a/b", credits=10)
    with connect(fresh_db) as connection:
        assert connection.scalar(select(func.count()).select_from(User)) == 0

    # A row written some other way, and a token signed by hand, still get nowhere near
    # the media store: the id is refused when the token is verified.
    add(fresh_db, User(id="a/b", email="slash@lumiku.local", password="!"))
    add(fresh_db, Credit(userId="a/b", amount=10, balance=10, type="bonus"))
    now = datetime.now(UTC)
    forged = jwt.encode(
        {"userId": "a/b", "email": "slash@lumiku.local", "exp": now + timedelta(hours=1)},
        JWT_SECRET,
        algorithm="HS256",
    )
    response = remove(service, forged, subject_png(64))
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "Unauthorized - Invalid token"}
    with connect(fresh_db) as connection:
        latest = connection.scalars(select(Credit.balance).where(Credit.userId == "a/b")).all()
    assert latest == [10]

    # An ordinary id with dots, dashes and underscores works end to end.
    account = ensure_account(fresh_db, user_id="ops.bot_1-x", credits=10)
    token = create_token(user_id=account.user_id, email=account.email, secret=JWT_SECRET)
    ok = remove(service, token, subject_png(64))
    assert ok.status_code == 200, ok.text
    assert ok.json()["job"]["userId"] == "ops.bot_1-x"
