"""``POST /batch``, ``GET /batch/{id}`` and ``GET /batch/{id}/download`` (spec 1.2-1.4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from service.auth import Caller, DbSession
from service.batches import create_batch, progress_percentage
from service.errors import ApiError
from service.idempotency import Recorder, fingerprint, run_once
from service.images import decode_image
from service.leases import lease
from service.models import BackgroundRemovalBatch
from service.pricing import MAX_BATCH_IMAGES, TIERS
from service.routes.uploads import (
    BODY_TIMEOUT_DOC,
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY,
    IMAGE_PART,
    IMAGE_TYPES,
    StagedUpload,
    require_model,
    stage_upload,
    tier_from,
    uploaded_form,
)
from service.schemas import (
    BatchDownloadResponse,
    BatchResponse,
    BatchStartResponse,
    error_responses,
)
from service.serializers import row_to_dict

router = APIRouter(prefix="/api/background-remover", tags=["background-remover"])

BATCH_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["tier"],
                    # At least one image, under either spelling the form accepts.
                    "anyOf": [{"required": ["images"]}, {"required": ["images[0]"]}],
                    "properties": {
                        "tier": {"type": "string", "enum": list(TIERS)},
                        "images": {
                            "type": "array",
                            "items": IMAGE_PART,
                            "minItems": 1,
                            "maxItems": MAX_BATCH_IMAGES,
                        },
                        "images[0]": IMAGE_PART,
                    },
                    "patternProperties": {r"^images\[": IMAGE_PART},
                    "description": "Files under the keys images[0], images[1], ... (the "
                    f"original's) or a repeated 'images', 1 to {MAX_BATCH_IMAGES} in all; "
                    "parts without a filename are not files, and are ignored.",
                },
                "encoding": {
                    "images": {"contentType": IMAGE_TYPES},
                    "images[0]": {"contentType": IMAGE_TYPES},
                },
            }
        },
    },
    "parameters": [IDEMPOTENCY_KEY],
}


@router.post(
    "/batch",
    openapi_extra=BATCH_FORM,
    responses={
        200: {"model": BatchStartResponse, "description": "The batch is charged and queued"},
        **error_responses(
            {
                400: "Invalid tier, no files, too many files, or a bad image",
                402: "Insufficient credits",
                **IDEMPOTENCY_ERRORS,
                413: "The request body is over the 256 MiB batch limit",
                408: BODY_TIMEOUT_DOC,
                503: "The tier's model is not installed",
            }
        ),
    },
)
async def start_batch(request: Request, user: Caller) -> JSONResponse:
    """Validate every image, charge the discounted price once, and queue the items.

    The files stream to temporary files while the body arrives; they are decoded one at
    a time to validate them (never all in memory) and copied to the media folder only
    by a batch that is charged.
    """
    async with uploaded_form(request) as form:
        tier = tier_from(form)
        files = [
            (key, value)
            for key, value in form.multi_items()
            if (key.startswith("images[") or key == "images") and isinstance(value, UploadFile)
        ]
        if not files:
            raise ApiError(400, "No files provided")
        if len(files) > MAX_BATCH_IMAGES:
            raise ApiError(400, f"Maximum {MAX_BATCH_IMAGES} images per batch")
        staged = await run_in_threadpool(_stage_all, files)
        state = request.app.state

        def run() -> tuple[int, dict[str, Any]]:
            with lease(state.engine) as held:

                def work(record: Recorder) -> dict[str, Any]:
                    for index, upload in enumerate(staged):
                        try:
                            # Decoded to validate, then dropped: one image in memory at a time.
                            decode_image(upload.file)
                        except ApiError as exc:
                            raise ApiError(
                                400, f"Image {index} ({upload.name}): {exc.message}"
                            ) from None
                    require_model(state.removal, tier)
                    return create_batch(
                        held.sessions,
                        state.media,
                        state.queue,
                        user_id=user.id,
                        tier=tier,
                        uploads=[(upload.name, upload.file, upload.size) for upload in staged],
                        record=record,
                    )

                return run_once(
                    held,
                    key=request.headers.get("Idempotency-Key"),
                    user_id=user.id,
                    endpoint="POST /batch",
                    request_hash=fingerprint(tier, *(upload.sha256 for upload in staged)),
                    work=work,
                )

        status, body = await run_in_threadpool(run)
    return JSONResponse(body, status_code=status)


def _stage_all(files: list[tuple[str, UploadFile]]) -> list[StagedUpload]:
    staged = []
    for index, (key, upload) in enumerate(files):
        name = upload.filename or key
        try:
            staged.append(stage_upload(upload, name))
        except ApiError as exc:
            raise ApiError(400, f"Image {index} ({name}): {exc.message}") from None
    return staged


def _own_batch(session: Session, user_id: str, batch_id: str) -> BackgroundRemovalBatch:
    batch = session.scalars(
        select(BackgroundRemovalBatch).where(
            BackgroundRemovalBatch.batchId == batch_id, BackgroundRemovalBatch.userId == user_id
        )
    ).one_or_none()
    if batch is None:
        raise ApiError(404, "Batch not found")
    return batch


@router.get(
    "/batch/{batch_id}",
    response_model=None,
    responses={
        200: {"model": BatchResponse, "description": "The batch with its items in order"},
        **error_responses({404: "Batch not found"}),
    },
)
def get_batch(batch_id: str, user: Caller, session: DbSession) -> dict[str, Any]:
    """The caller's batch with its items in order; 404 for anyone else's."""
    batch = _own_batch(session, user.id, batch_id)
    body = row_to_dict(batch)
    body["progressPercentage"] = progress_percentage(batch)
    body["jobs"] = [row_to_dict(job) for job in batch.jobs]
    return {"batch": body}


@router.get(
    "/batch/{batch_id}/download",
    response_model=None,
    responses={
        200: {"model": BatchDownloadResponse, "description": "Where the batch's ZIP is"},
        **error_responses({404: "Batch not found, or its ZIP is not generated yet"}),
    },
)
def download_batch(batch_id: str, user: Caller, session: DbSession) -> dict[str, Any]:
    """Where the batch's ZIP is (JSON, as the original); fetch it from ``zipUrl``."""
    batch = _own_batch(session, user.id, batch_id)
    if batch.zipUrl is None:
        raise ApiError(404, "ZIP file not yet generated")
    return {"zipUrl": batch.zipUrl, "zipSize": batch.zipSize}
