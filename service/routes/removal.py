"""``POST /remove`` and ``GET /jobs/{jobId}`` (domain spec 1.1 and 1.6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import bindparam, select
from starlette.datastructures import UploadFile

from service.auth import Caller, CallerReads
from service.errors import ApiError
from service.idempotency import Recorder, fingerprint, run_once
from service.images import decode_image, image_pixels
from service.leases import lease
from service.models import BackgroundRemovalJob
from service.pricing import TIERS
from service.removal import RemovalBusyError
from service.routes.uploads import (
    BODY_TIMEOUT_DOC,
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY,
    IMAGE_PART,
    IMAGE_TYPES,
    busy,
    require_model,
    stage_upload,
    tier_from,
    uploaded_form,
)
from service.schemas import JobResponse, RemoveResponse, error_responses
from service.serializers import JsonBody, rows_to_dicts
from service.single_removal import recover_interrupted_removals, remove_single

JOB = BackgroundRemovalJob.__table__
JOB_OF = select(JOB).where(JOB.c.id == bindparam("job_id"), JOB.c.userId == bindparam("user_id"))

router = APIRouter(prefix="/api/background-remover", tags=["background-remover"])

REMOVE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image", "tier"],
                    "properties": {
                        "image": IMAGE_PART,
                        "tier": {"type": "string", "enum": list(TIERS)},
                    },
                },
                "encoding": {"image": {"contentType": IMAGE_TYPES}},
            }
        },
    },
    "parameters": [IDEMPOTENCY_KEY],
}


@router.post(
    "/remove",
    openapi_extra=REMOVE_FORM,
    responses={
        200: {"model": RemoveResponse, "description": "The background removed; the job"},
        **error_responses(
            {
                400: "Missing or invalid image or tier",
                402: "Insufficient credits",
                **IDEMPOTENCY_ERRORS,
                413: "The request body is over the 10 MiB upload limit",
                408: BODY_TIMEOUT_DOC,
                503: "The tier's model is not installed, or the server is busy with other "
                "heavy removals (see Retry-After)",
            }
        ),
    },
)
async def remove_background(request: Request, user: Caller) -> JSONResponse:
    """Remove one image's background now; validated first, charged once, refunded on failure.

    A heavy removal (a matting tier, or a large image) waits briefly for one of the
    process's heavy slots, then answers 503 with ``Retry-After``; nothing is charged or
    stored then.
    """
    async with uploaded_form(request) as form:
        image = form.get("image")
        if not isinstance(image, UploadFile):
            raise ApiError(400, "No image file provided")
        tier = tier_from(form)
        staged = await run_in_threadpool(stage_upload, image, image.filename or "image")
        state = request.app.state

        def run() -> tuple[int, dict[str, Any]]:
            with lease(state.engine) as held:

                def work(record: Recorder) -> dict[str, Any]:
                    try:
                        slot = state.removal.heavy_slot(
                            tier,
                            image_pixels(staged.file),
                            wait_s=state.settings.heavy_removal_wait_s,
                        )
                        with slot:
                            upload = decode_image(staged.file)
                            require_model(state.removal, tier)
                            return remove_single(
                                held,
                                state.media,
                                state.removal,
                                user_id=user.id,
                                tier=tier,
                                upload=upload,
                                source=staged.file,
                                record=record,
                            )
                    except RemovalBusyError as exc:
                        raise busy(exc) from None

                def settle_dead_request() -> None:
                    # The key's first request died, perhaps charged: refund it before this
                    # one charges, so the key costs one removal in all.
                    recover_interrupted_removals(held.sessions, user_id=user.id)

                return run_once(
                    held,
                    key=request.headers.get("Idempotency-Key"),
                    user_id=user.id,
                    endpoint="POST /remove",
                    request_hash=fingerprint(tier, staged.sha256),
                    work=work,
                    on_takeover=settle_dead_request,
                )

        status, body = await run_in_threadpool(run)
    return JSONResponse(body, status_code=status)


@router.get(
    "/jobs/{job_id}",
    response_model=None,
    responses={
        200: {"model": JobResponse, "description": "The job"},
        **error_responses({404: "Job not found"}),
    },
)
async def get_job(job_id: str, reader: CallerReads) -> JSONResponse:
    """One of the caller's jobs (single or batch item); 404 for anyone else's."""
    found = await reader.db.execute(JOB_OF, {"job_id": job_id, "user_id": reader.user.id})
    jobs = rows_to_dicts(list(found.keys()), found.all())
    if not jobs:
        raise ApiError(404, "Job not found")
    return JsonBody({"job": jobs[0]})
