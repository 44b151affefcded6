"""The verify runbook's smoke test against the real service."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from lumiku_ops.reference.smoke import checkerboard_preview, run_removal_smoke_test
from tests.conftest import JWT_SECRET
from tests.utils.factories import user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]


def test_smoke_test_returns_the_original_and_a_real_cutout(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="smoke@lumiku.local", credits=10)
    smoke = run_removal_smoke_test(service.base_url, token)
    assert smoke.passed, smoke.checks
    assert smoke.job["status"] == "completed"
    assert smoke.original_png[:8] == smoke.cutout_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(smoke.to_dict()) == {"passed", "checks", "job", "original_bytes", "cutout_bytes"}
    preview = Image.open(io.BytesIO(checkerboard_preview(smoke)))
    assert preview.size == (320 * 2 + 16, 320)

    _, broke = user_with_token(fresh_db, JWT_SECRET, email="broke@lumiku.local", credits=0)
    failed = run_removal_smoke_test(service.base_url, broke)
    assert failed.passed is False and failed.cutout_png == b""
    assert failed.checks["POST /api/background-remover/remove answered 200"] is False
