"""``POST /remove`` with real rembg and the installed u2netp model, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import JWT_SECRET
from tests.utils.factories import user_with_token
from tests.utils.images import alpha_at, subject_jpeg, subject_png
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]


def remove(
    service: RunningService, token: str, image: bytes, tier: str = "basic", **headers: str
) -> requests.Response:
    return service.post(
        "/api/background-remover/remove",
        token,
        files={"image": ("photo.png", image, "image/png")},
        data={"tier": tier},
        headers=headers,
    )


def balance(service: RunningService, token: str) -> int:
    return int(service.get("/api/credits/balance", token).json()["data"]["balance"])


@pytest.mark.parametrize("tier", ["basic", "standard", "professional", "industry"])
def test_every_tier_cuts_the_subject_out(
    fresh_db: str, start_remover: Callable[..., RunningService], tier: str
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="cut@lumiku.local", credits=100)

    response = remove(service, token, subject_png(), tier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Background removed successfully"
    job = body["job"]
    assert job["status"] == "completed" and job["tier"] == tier
    assert job["aiProvider"] == "rembg" and job["modelName"] == "u2netp"
    assert (
        job["creditsUsed"] == {"basic": 3, "standard": 8, "professional": 15, "industry": 25}[tier]
    )
    cutout = service.get(job["processedUrl"], token)
    assert cutout.status_code == 200 and cutout.headers["content-type"] == "image/png"
    for corner in [(2, 2), (317, 2), (2, 317), (317, 317)]:
        assert alpha_at(cutout.content, corner) == 0, corner
    assert alpha_at(cutout.content, (160, 160)) >= 250
    thumb = service.get(job["thumbnailUrl"], token)
    assert thumb.status_code == 200 and thumb.content[8:12] == b"WEBP"
    assert balance(service, token) == 100 - job["creditsUsed"]


def test_jpeg_upload_is_stored_as_jpeg_and_listed(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="jpeg@lumiku.local", credits=10)
    job = remove(service, token, subject_jpeg()).json()["job"]
    assert job["originalUrl"].endswith("_original.jpg")
    assert service.get(job["originalUrl"], token).content[:2] == b"\xff\xd8"
    listed = service.get("/api/background-remover/jobs", token).json()["jobs"]
    assert [item["id"] for item in listed] == [job["id"]]
    assert service.get(f"/api/background-remover/jobs/{job['id']}", token).json() == {"job": job}


def test_a_tier_without_its_model_answers_503_naming_the_install_command(
    fresh_db: str, start_remover: Callable[..., RunningService], tmp_path: Path
) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    service = start_remover(fresh_db, worker=False, U2NET_HOME=str(empty))
    _, token = user_with_token(fresh_db, JWT_SECRET, email="nomodel@lumiku.local", credits=10)
    response = remove(service, token, subject_png())
    assert response.status_code == 503
    assert "lumiku-ops models install u2netp" in response.json()["error"]
    assert balance(service, token) == 10


def test_insufficient_credits_is_a_402_and_writes_nothing(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="poor@lumiku.local", credits=2)
    response = remove(service, token, subject_png())
    assert response.status_code == 402
    assert response.json() == {"error": "Insufficient credits. Required: 3, Available: 2"}
    assert service.get("/api/background-remover/jobs", token).json() == {"jobs": []}
    assert balance(service, token) == 2


def test_openapi_document_lists_every_endpoint(
    fresh_db: str, start_remover: Callable[..., RunningService]
) -> None:
    service = start_remover(fresh_db, worker=False)
    paths = service.get("/openapi.json").json()["paths"]
    prefix = "/api/background-remover"
    expected = {
        f"{prefix}/remove": {"post"},
        f"{prefix}/batch": {"post"},
        f"{prefix}/batch/{{batch_id}}": {"get"},
        f"{prefix}/batch/{{batch_id}}/download": {"get"},
        f"{prefix}/jobs": {"get"},
        f"{prefix}/jobs/{{job_id}}": {"get"},
        f"{prefix}/subscription": {"get", "post", "delete"},
        f"{prefix}/pricing/calculate": {"post"},
        f"{prefix}/stats": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) >= methods, path
    form = paths[f"{prefix}/remove"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["required"] == ["image", "tier"]
