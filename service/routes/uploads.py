"""Reading multipart uploads the way the original's routes did, with 400s for bad input.

Files are streamed to anonymous temporary files as the body arrives (never held whole in
memory, and gone from the disk as soon as they are closed, or if the process dies), and
nothing reaches the media folder until the request has been validated and charged.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser

from service.errors import ApiError
from service.images import MAX_UPLOAD_BYTES, TOO_LARGE
from service.pricing import MAX_BATCH_IMAGES, TIERS
from service.removal import ModelNotInstalledError, RemovalBusyError, RemovalEngine

FORM_ERROR = "Invalid form data: expected multipart/form-data"

# What a file part must hold: its bytes are decoded, whatever its Content-Type says.
IMAGE_TYPES = "image/png, image/jpeg, image/webp"
IMAGE_PART = {
    "type": "string",
    "format": "binary",
    "description": "A PNG, JPEG or WEBP image of at most 10 MiB and 40 megapixels, sent as a "
    "file (with a filename in its Content-Disposition).",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A retry with the same key charges once and gets the first response. "
    "The key reused for a different request is a 422; while its first request is still "
    "running, a 409.",
}
BODY_TIMEOUT_DOC = (
    "The body did not arrive within LUMIKU_BODY_TIMEOUT_S seconds (default 300); the "
    "connection is closed"
)
IDEMPOTENCY_ERRORS = {
    409: "A request with this Idempotency-Key is still being processed",
    422: "The Idempotency-Key was already used for a different request (another tier or "
    "other images)",
}


class _DiskSpooledParser(MultiPartParser):
    # Starlette keeps each file in memory up to 1 MiB before spilling it to disk: 500 MiB
    # for a batch of 500. Past 64 KiB a file goes to disk.
    spool_max_size = 64 * 1024


@asynccontextmanager
async def uploaded_form(request: Request) -> AsyncIterator[FormData]:
    """The parsed form, its files spooled to disk; they are closed (deleted) on exit.

    Raises:
        ApiError: 400 when the body cannot be parsed (the original answered 500); 413
            (from the body limit) when it is too large.
    """
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            parser = _DiskSpooledParser(
                request.headers, request.stream(), max_files=MAX_BATCH_IMAGES + 1
            )
            form = await parser.parse()
        else:
            form = await request.form(max_files=MAX_BATCH_IMAGES + 1)
    except ApiError:
        raise
    except Exception:  # noqa: BLE001 - any parser failure is the client's malformed body
        raise ApiError(400, FORM_ERROR) from None
    try:
        yield form
    finally:
        await form.close()


def tier_from(form: FormData) -> str:
    """The ``tier`` field, one of the four tiers, or 400 ``Invalid tier``."""
    tier = form.get("tier")
    if not isinstance(tier, str) or tier not in TIERS:
        raise ApiError(400, "Invalid tier")
    return tier


@dataclass(frozen=True)
class StagedUpload:
    """An uploaded file as received: its name, its spooled file, size and SHA-256."""

    name: str
    file: IO[bytes]
    size: int
    sha256: str


def stage_upload(upload: UploadFile, name: str) -> StagedUpload:
    """The file's size and digest, read from its spooled copy in chunks (call in a thread).

    Raises:
        ApiError: 400 when it is over the 10 MiB limit.
    """
    size = upload.file.seek(0, 2)
    if size > MAX_UPLOAD_BYTES:
        raise ApiError(400, TOO_LARGE)
    upload.file.seek(0)
    digest = hashlib.sha256()
    # A spooled file lacks readinto(), which hashlib.file_digest() needs.
    while chunk := upload.file.read(1024 * 1024):
        digest.update(chunk)
    return StagedUpload(name=name, file=upload.file, size=size, sha256=digest.hexdigest())


def require_model(engine: RemovalEngine, tier: str) -> None:
    """503, naming the install command, when no model for ``tier`` is installed."""
    try:
        engine.model_for(tier)
    except ModelNotInstalledError as exc:
        raise ApiError(503, str(exc)) from None


def busy(exc: RemovalBusyError) -> ApiError:
    """The 503 for a removal that found no free heavy slot, with ``Retry-After``."""
    return ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
