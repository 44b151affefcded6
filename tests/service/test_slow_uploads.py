"""A request body has a deadline: a client trickling it in is cut off with a 408.

Over real HTTP, on a raw socket: the headers, then one byte a second, against a service
whose ``LUMIKU_BODY_TIMEOUT_S`` is 2.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from service.settings import DEFAULT_BODY_TIMEOUT_S, default_body_timeout
from tests.conftest import JWT_SECRET
from tests.utils.factories import user_with_token
from tests.utils.service import RunningService

PREFIX = "/api/background-remover"
TIMEOUT_S = 2
# Time for the 408 to be written and the connection closed, on a busy 2-core machine.
SLACK_S = 3.0


def trickle(service: RunningService, path: str, token: str) -> tuple[bytes, float]:
    """Send a 1,000-byte body's headers, then one byte a second until the server hangs up.

    Returns everything the server sent, and the seconds from the headers to its close.
    """
    address = urlsplit(service.base_url)
    sock = socket.create_connection((address.hostname or "", address.port or 80), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=slow\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(1.0):
            try:
                sock.sendall(b"-")
            except OSError:  # the server hung up: the point of the test
                return

    sock.sendall(head.encode())
    started = time.monotonic()
    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        dripper.join()
        sock.close()
    return received, elapsed


@pytest.mark.db
@pytest.mark.http
@pytest.mark.parametrize("path", [f"{PREFIX}/remove", f"{PREFIX}/batch"])
def test_a_slow_upload_is_cut_off_with_a_408_and_the_service_answers_others(
    fresh_db: str, start_remover: Callable[..., RunningService], path: str
) -> None:
    service = start_remover(fresh_db, worker=False, LUMIKU_BODY_TIMEOUT_S=str(TIMEOUT_S))
    _, token = user_with_token(fresh_db, JWT_SECRET, email="slow@lumiku.local", credits=10)
    answers: list[int] = []
    # While the slow client holds its connection, others are served.
    other = threading.Timer(1.0, lambda: answers.append(service.get("/health").status_code))
    other.start()

    received, elapsed = trickle(service, path, token)

    other.join()
    assert answers == [200]
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    assert status_line == "HTTP/1.1 408 Request Timeout", received
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "error": f"Request timeout: the body did not arrive within {TIMEOUT_S} s"
    }
    # The 408 came at the deadline, and the connection was closed with it.
    assert TIMEOUT_S - 0.5 <= elapsed <= TIMEOUT_S + SLACK_S, elapsed
    pricing = service.post(
        f"{PREFIX}/pricing/calculate", token, json={"totalImages": 3, "tier": "basic"}
    )
    assert pricing.status_code == 200, pricing.text
    documented = service.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    assert "LUMIKU_BODY_TIMEOUT_S" in documented["408"]["description"]
    assert any(
        record.get("status") == 408 and record.get("path") == path
        for record in service.log_records()
    )


def test_the_body_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMIKU_BODY_TIMEOUT_S", raising=False)
    assert default_body_timeout() == DEFAULT_BODY_TIMEOUT_S == 300
    monkeypatch.setenv("LUMIKU_BODY_TIMEOUT_S", "2.5")
    assert default_body_timeout() == 2.5
    for wrong in ("soon", "0", "-1", "100000"):
        monkeypatch.setenv("LUMIKU_BODY_TIMEOUT_S", wrong)
        with pytest.raises(ValueError, match="LUMIKU_BODY_TIMEOUT_S"):
            default_body_timeout()
