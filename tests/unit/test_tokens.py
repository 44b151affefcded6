"""Token checks: a verified token is remembered, but never past its expiry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from service.auth import INVALID_TOKEN, create_token, decode_token
from service.errors import ApiError

SECRET = "unit-test-secret-" + "x" * 32


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    token = create_token(
        user_id="u-expiring", email="e@x.test", secret=SECRET, lifetime=timedelta(seconds=2)
    )
    assert decode_token(token, SECRET) == "u-expiring"  # verified, and now remembered
    time.sleep(2.1)
    with pytest.raises(ApiError) as refused:
        decode_token(token, SECRET)
    assert (refused.value.status_code, refused.value.message) == (401, INVALID_TOKEN)


def test_a_remembered_token_is_not_accepted_under_another_secret() -> None:
    token = create_token(user_id="u-rotated", email="e@x.test", secret=SECRET)
    assert decode_token(token, SECRET) == "u-rotated"
    with pytest.raises(ApiError) as refused:
        decode_token(token, SECRET + "-rotated")
    assert refused.value.status_code == 401
