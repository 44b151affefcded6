"""The verify runbook's smoke test: one real removal, checked pixel by pixel.

A generated picture (a red disc on a plain grey background, made with Pillow, nothing
downloaded) goes through ``POST /api/background-remover/remove``; the cut-out must be a
PNG whose corners are transparent and whose centre (the disc) is opaque.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from PIL import Image, ImageDraw

from lumiku_ops.errors import LumikuOpsError

SAMPLE_SIZE = 320
REMOVE_PATH = "/api/background-remover/remove"


def sample_image(size: int = SAMPLE_SIZE) -> bytes:
    """A red disc on a light grey background, as PNG bytes."""
    image = Image.new("RGB", (size, size), (235, 235, 235))
    margin = size * 9 // 32
    ImageDraw.Draw(image).ellipse(
        (margin, margin, size - margin, size - margin), fill=(200, 30, 40)
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class RemovalSmoke:
    """What the smoke test sent, what came back, and each check's verdict."""

    original_png: bytes = field(repr=False)
    cutout_png: bytes = field(repr=False)
    job: dict[str, Any]
    checks: dict[str, bool]
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the images as byte counts, not bytes)."""
        return {
            "passed": self.passed,
            "checks": dict(self.checks),
            "job": dict(self.job),
            "original_bytes": len(self.original_png),
            "cutout_bytes": len(self.cutout_png),
        }


def _alpha_checks(cutout: bytes) -> dict[str, bool]:
    try:
        image = Image.open(io.BytesIO(cutout))
        image.load()
    except Exception:  # noqa: BLE001 - any decoding failure is a failed check
        return {"cut-out is a PNG with transparency": False}
    alpha = image.convert("RGBA").getchannel("A")
    last = image.width - 1, image.height - 1
    corners = [(1, 1), (last[0] - 1, 1), (1, last[1] - 1), (last[0] - 1, last[1] - 1)]
    return {
        "cut-out is a PNG with transparency": image.format == "PNG"
        and image.mode in ("RGBA", "LA"),
        "background (corners) is transparent": all(alpha.getpixel(xy) == 0 for xy in corners),
        "subject (centre) is opaque": int(alpha.getpixel((image.width // 2, image.height // 2)))  # type: ignore[arg-type]
        >= 250,
    }


def _wait_for_job(
    session: requests.Session, api_url: str, job: dict[str, Any], deadline: float
) -> dict[str, Any]:
    while job.get("status") not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = session.get(f"{api_url}/api/background-remover/jobs/{job['id']}", timeout=10)
        if answer.status_code == 200:
            job = answer.json()["job"]
    return job


def run_removal_smoke_test(
    api_url: str, token: str, *, tier: str = "basic", timeout_s: float = 60.0
) -> RemovalSmoke:
    """Upload the sample image, wait for its job, and fetch and check the cut-out.

    Args:
        api_url: the service's base URL.
        token: a bearer token for a user with credits (or a subscription) for ``tier``.
        tier: the quality tier to use.
        timeout_s: how long to wait for the removal in total.

    Returns:
        The original and the cut-out, the job, and one verdict per check.

    Raises:
        LumikuOpsError: the service could not be reached at all.
    """
    api_url = api_url.rstrip("/")
    original = sample_image()
    deadline = time.monotonic() + timeout_s
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        try:
            response = session.post(
                api_url + REMOVE_PATH,
                files={"image": ("smoke.png", original, "image/png")},
                data={"tier": tier},
                timeout=timeout_s,
            )
        except requests.RequestException as exc:
            raise LumikuOpsError(f"could not reach {api_url}: {type(exc).__name__}") from None
        body: dict[str, Any] = (
            response.json() if "json" in response.headers.get("content-type", "") else {}
        )
        checks = {f"POST {REMOVE_PATH} answered 200": response.status_code == 200}
        job = dict(body.get("job") or {"status": None, "response": body})
        cutout = b""
        if response.status_code == 200:
            job = _wait_for_job(session, api_url, job, deadline)
            checks["job completed"] = job.get("status") == "completed"
            if job.get("processedUrl"):
                fetched = session.get(api_url + str(job["processedUrl"]), timeout=30)
                checks["cut-out downloaded"] = fetched.status_code == 200
                cutout = fetched.content if fetched.status_code == 200 else b""
        checks.update(_alpha_checks(cutout) if cutout else {"cut-out downloaded": False})
    return RemovalSmoke(
        original_png=original,
        cutout_png=cutout,
        job=job,
        checks=checks,
        passed=all(checks.values()),
    )


def _checkerboard(size: tuple[int, int], cell: int = 16) -> Image.Image:
    board = Image.new("RGBA", size, (255, 255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], cell):
        for x in range(0, size[0], cell):
            if (x // cell + y // cell) % 2:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(204, 204, 204, 255))
    return board


def checkerboard_preview(smoke: RemovalSmoke) -> bytes:
    """A PNG: the original on the left, the cut-out over a checkerboard on the right."""
    original = Image.open(io.BytesIO(smoke.original_png)).convert("RGBA")
    width, height = original.size
    canvas = Image.new("RGBA", (width * 2 + 16, height), (255, 255, 255, 255))
    canvas.paste(original, (0, 0))
    panel = _checkerboard((width, height))
    if smoke.cutout_png:
        cutout = Image.open(io.BytesIO(smoke.cutout_png)).convert("RGBA").resize((width, height))
        panel = Image.alpha_composite(panel, cutout)
    canvas.paste(panel, (width + 16, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()
