"""Reading multipart uploads the way the original's routes did, with 400s for bad input."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from service.errors import ApiError
from service.images import MAX_UPLOAD_BYTES, TOO_LARGE
from service.pricing import MAX_BATCH_IMAGES, TIERS
from service.removal import ModelNotInstalledError, RemovalBusyError, RemovalEngine


async def read_form(request: Request) -> FormData:
    """The multipart body; 400 when it cannot be parsed (the original answered 500)."""
    try:
        return await request.form(max_files=MAX_BATCH_IMAGES + 1)
    except ApiError:
        raise  # the body limit's 413, raised while the body streams in
    except Exception:  # noqa: BLE001 - any parser failure is the client's malformed body
        raise ApiError(400, "Invalid form data: expected multipart/form-data") from None


def tier_from(form: FormData) -> str:
    """The ``tier`` field, one of the four tiers, or 400 ``Invalid tier``."""
    tier = form.get("tier")
    if not isinstance(tier, str) or tier not in TIERS:
        raise ApiError(400, "Invalid tier")
    return tier


async def read_upload(upload: UploadFile) -> bytes:
    """The file's bytes, reading at most one byte past the 10 MiB limit."""
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(400, TOO_LARGE)
    return data


def require_model(engine: RemovalEngine, tier: str) -> None:
    """503, naming the install command, when no model for ``tier`` is installed."""
    try:
        engine.model_for(tier)
    except ModelNotInstalledError as exc:
        raise ApiError(503, str(exc)) from None


def busy(exc: RemovalBusyError) -> ApiError:
    """The 503 for a removal that found no free heavy slot, with ``Retry-After``."""
    return ApiError(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
