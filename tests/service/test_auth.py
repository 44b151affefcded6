"""Auth as the original's middleware, made strict: every bad token is a 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import jwt
import pytest

from service.auth import create_token
from tests.conftest import JWT_SECRET
from tests.utils.db import upgrade
from tests.utils.factories import add, subscription, user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]
PATH = "/api/background-remover/subscription"


@pytest.fixture
def service(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> Iterator[RunningService]:
    upgrade(fresh_db, "head")
    yield service_factory(fresh_db)


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_missing_or_non_bearer_header_is_refused(service: RunningService) -> None:
    for headers in ({}, {"Authorization": "Token abc"}, {"Authorization": "bearer abc"}):
        response = service.get(PATH, **headers)
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized - No token provided"}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_invalid_tokens_are_refused(fresh_db: str, service: RunningService) -> None:
    account, _ = user_with_token(fresh_db, JWT_SECRET, email="victim@lumiku.local")
    claims = {"userId": account.user_id, "email": account.email}
    bad_tokens = {
        "malformed": "not-a-jwt",
        "expired": create_token(
            user_id=account.user_id,
            email=account.email,
            secret=JWT_SECRET,
            lifetime=timedelta(seconds=-10),
        ),
        "wrong secret": create_token(user_id=account.user_id, email=account.email, secret="x" * 40),
        "alg none": _unsigned({**claims, "exp": 4102444800}),
        "no exp": jwt.encode(claims, JWT_SECRET, algorithm="HS256"),
        "no userId": jwt.encode({"email": account.email, "exp": 4102444800}, JWT_SECRET),
        "HS512": jwt.encode({**claims, "exp": 4102444800}, JWT_SECRET, algorithm="HS512"),
    }
    for label, token in bad_tokens.items():
        response = service.get(PATH, token)
        assert response.status_code == 401, label
        assert response.json() == {"error": "Unauthorized - Invalid token"}, label


def test_unknown_user_is_refused(service: RunningService) -> None:
    token = create_token(user_id="ghost", email="ghost@lumiku.local", secret=JWT_SECRET)
    response = service.get(PATH, token)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized - User not found"}


def test_a_user_cannot_read_another_users_data(fresh_db: str, service: RunningService) -> None:
    owner, owner_token = user_with_token(fresh_db, JWT_SECRET, email="owner@lumiku.local")
    _, other_token = user_with_token(fresh_db, JWT_SECRET, email="other@lumiku.local")
    add(fresh_db, subscription(owner.user_id, plan="starter"))

    assert service.get(PATH, owner_token).json()["subscription"]["plan"] == "starter"
    assert service.get(PATH, other_token).json() == {"subscription": None}
    stats = service.get("/api/background-remover/stats", other_token).json()["stats"]
    assert stats["hasSubscription"] is False
