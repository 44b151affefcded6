"""``GET /storage/...``: a job's or batch's files, served only to their owner."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from sqlalchemy import or_, select

from service.auth import Caller, DbSession
from service.errors import ApiError
from service.models import BackgroundRemovalBatch, BackgroundRemovalJob
from service.schemas import error_responses

router = APIRouter(tags=["storage"])
MEDIA_TYPES = {".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg"}
FILE_MEDIA_TYPES = [*MEDIA_TYPES.values(), "application/zip"]


@router.get(
    "/storage/{path:path}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file: a cut-out, a thumbnail, an original, or a batch's ZIP",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in FILE_MEDIA_TYPES
            },
        },
        **error_responses({404: "Not found"}),
    },
)
def storage_file(path: str, request: Request, user: Caller, session: DbSession) -> FileResponse:
    """A stored file, if a job or batch of the caller's points at it; 404 otherwise."""
    url = f"/storage/{path}"
    job = BackgroundRemovalJob
    owned = session.scalar(
        select(job.id)
        .where(
            job.userId == user.id,
            or_(job.originalUrl == url, job.processedUrl == url, job.thumbnailUrl == url),
        )
        .limit(1)
    ) or session.scalar(
        select(BackgroundRemovalBatch.id)
        .where(BackgroundRemovalBatch.userId == user.id, BackgroundRemovalBatch.zipUrl == url)
        .limit(1)
    )
    file = request.app.state.media.path_for(url)
    if owned is None or file is None or not file.is_file():
        raise ApiError(404, "Not Found")
    media_type = MEDIA_TYPES.get(file.suffix, "application/zip")
    return FileResponse(file, media_type=media_type)
