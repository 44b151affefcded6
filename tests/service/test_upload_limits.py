"""Request bodies are bounded before they are read, and refused uploads leave no file.

Sizes are asserted through status codes, bodies and the files under the media root, never
through timings or memory figures (those are the benchmark's).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import JWT_SECRET
from tests.service.test_removal import balance, remove
from tests.utils.factories import user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]
PREFIX = "/api/background-remover"


def media_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def connection(service: RunningService) -> http.client.HTTPConnection:
    address = urlsplit(service.base_url)
    return http.client.HTTPConnection(address.hostname or "", address.port, timeout=20)


def declare_and_read(
    service: RunningService, path: str, token: str, content_type: str, length: int
) -> tuple[int, dict[str, Any]]:
    """Send only the headers of a ``length``-byte body, then read the answer."""
    conn = connection(service)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def send_chunked(
    service: RunningService, path: str, token: str, chunks: list[bytes]
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body in chunked transfer encoding: no Content-Length to check."""
    conn = connection(service)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for chunk in chunks:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def started(
    fresh_db: str, start_remover: Callable[..., RunningService], tmp_path: Path
) -> tuple[RunningService, Path]:
    return start_remover(fresh_db, worker=False), tmp_path / "media"


def test_a_declared_body_over_the_limit_is_a_413_before_any_byte_is_read(
    fresh_db: str, started: tuple[RunningService, Path]
) -> None:
    service, media = started
    _, token = user_with_token(fresh_db, JWT_SECRET, email="huge@lumiku.local", credits=100)
    multipart = "multipart/form-data; boundary=x"
    # 500 files of 10 MiB: what once added 5 GiB to the server before its 400.
    status, body = declare_and_read(service, f"{PREFIX}/batch", token, multipart, 500 * 10 * 2**20)
    assert (status, body) == (
        413,
        {
            "error": f"Request body too large: the limit for {PREFIX}/batch is 256 MiB "
            "(send fewer images per batch)"
        },
    )
    status, body = declare_and_read(service, f"{PREFIX}/remove", token, multipart, 11 * 2**20)
    assert status == 413
    assert body == {"error": f"Request body too large: the limit for {PREFIX}/remove is 10.06 MiB"}
    status, body = declare_and_read(
        service, f"{PREFIX}/pricing/calculate", token, "application/json", 200 * 2**20
    )
    assert (status, body) == (
        413,
        {"error": f"Request body too large: the limit for {PREFIX}/pricing/calculate is 64 KiB"},
    )
    assert balance(service, token) == 100
    assert media_files(media) == []


def test_a_chunked_body_is_counted_as_it_arrives(
    fresh_db: str, started: tuple[RunningService, Path]
) -> None:
    service, _ = started
    _, token = user_with_token(fresh_db, JWT_SECRET, email="chunks@lumiku.local", credits=10)
    request = json.dumps({"totalImages": 10, "tier": "basic"}).encode()
    # Valid JSON, padded with whitespace past the 64 KiB cap.
    padded = [request, *[b" " * 16384] * 5]
    status, body = send_chunked(service, f"{PREFIX}/pricing/calculate", token, padded)
    assert (status, body) == (
        413,
        {"error": f"Request body too large: the limit for {PREFIX}/pricing/calculate is 64 KiB"},
    )
    # The same request under the cap is answered as before.
    status, body = send_chunked(service, f"{PREFIX}/pricing/calculate", token, [request])
    assert status == 200 and body["pricing"]["totalImages"] == 10


def test_json_bodies_are_capped(fresh_db: str, started: tuple[RunningService, Path]) -> None:
    service, _ = started
    _, token = user_with_token(fresh_db, JWT_SECRET, email="json@lumiku.local", credits=10)
    big = {"plan": "starter", "paymentId": "p" * (200 * 1024)}
    response = service.post(f"{PREFIX}/subscription", token, json=big)
    assert response.status_code == 413, response.text[:200]
    assert response.json() == {
        "error": f"Request body too large: the limit for {PREFIX}/subscription is 64 KiB"
    }
    assert service.get(f"{PREFIX}/subscription", token).json() == {"subscription": None}


def test_refused_removals_and_batches_leave_no_file(
    fresh_db: str, started: tuple[RunningService, Path]
) -> None:
    service, media = started
    _, token = user_with_token(fresh_db, JWT_SECRET, email="broke@lumiku.local", credits=2)
    for _ in range(3):
        refused = remove(service, token, subject_png())
        assert refused.status_code == 402, refused.text
        assert refused.json() == {"error": "Insufficient credits. Required: 3, Available: 2"}
    files = [(f"images[{i}]", (f"shot {i}.png", subject_png(128), "image/png")) for i in range(3)]
    batch = service.post(f"{PREFIX}/batch", token, files=files, data={"tier": "basic"})
    assert batch.status_code == 402, batch.text
    assert batch.json() == {"error": "Insufficient credits. Required: 9, Available: 2"}
    bad = [*files, ("images[3]", ("bad.png", b"not an image", "image/png"))]
    invalid = service.post(f"{PREFIX}/batch", token, files=bad, data={"tier": "basic"})
    assert invalid.status_code == 400, invalid.text
    assert invalid.json()["error"].startswith("Image 3 (bad.png): ")
    assert media_files(media) == []
    assert balance(service, token) == 2


def test_a_removal_that_fails_after_the_charge_is_refunded_and_leaves_no_file(
    fresh_db: str, start_remover: Callable[..., RunningService], tmp_path: Path
) -> None:
    broken = tmp_path / "broken-models"
    (broken / "models" / "u2netp").mkdir(parents=True)
    # Present, so the tier is offered; unreadable, so the removal itself fails.
    (broken / "models" / "u2netp" / "u2netp.onnx").write_bytes(b"not a model")
    service = start_remover(fresh_db, worker=False, U2NET_HOME=str(broken))
    _, token = user_with_token(fresh_db, JWT_SECRET, email="fail@lumiku.local", credits=10)
    failed = remove(service, token, subject_png())
    assert failed.status_code == 500, failed.text
    assert set(failed.json()) == {"error", "requestId"}
    (job,) = service.get(f"{PREFIX}/jobs", token).json()["jobs"]
    assert job["status"] == "failed"
    assert balance(service, token) == 10
    assert media_files(tmp_path / "media") == []
