"""``POST /remove``: validate, then charge, then remove; a failure is refunded.

The original charged before validating the upload and kept the credits when the upload
was rejected; here nothing is charged until the image has been decoded and the tier's
model is known to be installed. Nothing is stored until the charge succeeds, and a
removal that fails (and is refunded) leaves no file behind.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from service.credits import deduct_credits, refund_credits
from service.images import DecodedImage, encode_png, make_thumbnail
from service.models import BackgroundRemovalJob, new_id, utcnow
from service.pricing import tier_price
from service.removal import PROVIDER, RemovalEngine
from service.serializers import row_to_dict
from service.storage import MediaStore
from service.subscriptions import QuotaReservation, release_quota, reserve_quota

log = logging.getLogger("service")
JOB_REFERENCE = "background_removal_job"


def output_urls(store: MediaStore, user_id: str, job_id: str) -> tuple[str, str]:
    """The URLs of a job's cut-out and thumbnail (written by :func:`save_outputs`)."""
    return (
        store.url("outputs", f"{user_id}_{job_id}.png"),
        store.url("thumbnails", f"{user_id}_{job_id}_thumb.webp"),
    )


def save_outputs(
    store: MediaStore, user_id: str, job_id: str, cutout_png: bytes, thumbnail: bytes
) -> tuple[str, str]:
    """Write a job's PNG cut-out and WebP thumbnail; return their URLs."""
    processed = store.write("outputs", f"{user_id}_{job_id}.png", cutout_png)
    thumb = store.write("thumbnails", f"{user_id}_{job_id}_thumb.webp", thumbnail)
    return processed, thumb


def remove_single(
    factory: sessionmaker[Session],
    store: MediaStore,
    engine: RemovalEngine,
    *,
    user_id: str,
    tier: str,
    upload: DecodedImage,
    source: bytes | IO[bytes],
) -> dict[str, Any]:
    """Charge (quota or credits), store ``source``, remove the background, return the job.

    ``source`` is the upload as received (bytes or a spooled file), stored as the job's
    original once the charge has committed.

    Raises:
        ModelNotInstalledError: before any charge, when the tier cannot run here.
        ApiError: 402 when credits are insufficient (nothing is written then).
    """
    engine.model_for(tier)
    job_id = new_id()
    original_name = f"{user_id}_{job_id}_original.{upload.extension}"
    original_url = store.url("uploads", original_name)
    with factory() as session, session.begin():
        reservation = reserve_quota(session, user_id, tier, 1)
        price = 0 if reservation else tier_price(tier)
        if reservation is None:
            deduct_credits(
                session,
                user_id,
                price,
                description="background_removal",
                reference_type=JOB_REFERENCE,
                reference_id=job_id,
            )
        session.add(
            BackgroundRemovalJob(
                id=job_id,
                userId=user_id,
                status="processing",
                originalUrl=original_url,
                originalSize=upload.size,
                tier=tier,
                creditsUsed=price,
                pricingType="subscription" if reservation else "credit",
            )
        )
    try:
        store.write("uploads", original_name, source)
        cutout = engine.remove(upload.image, tier)
        png = encode_png(cutout.image)
        processed_url, thumbnail_url = save_outputs(
            store, user_id, job_id, png, make_thumbnail(cutout.image)
        )
    except Exception as exc:
        _fail(factory, job_id, user_id, tier, price, reservation, exc)
        # Refunded, so nothing of it is kept: the original and any output already written.
        store.delete(original_url, *output_urls(store, user_id, job_id))
        raise
    with factory() as session, session.begin():
        job = session.get_one(BackgroundRemovalJob, job_id, with_for_update=True)
        job.status = "completed"
        job.processedUrl = processed_url
        job.thumbnailUrl = thumbnail_url
        job.processedSize = len(png)
        job.aiProvider = PROVIDER
        job.modelName = cutout.model
        job.processingTime = cutout.elapsed_ms
        job.completedAt = utcnow()
        session.flush()
        return row_to_dict(job)


def _fail(
    factory: sessionmaker[Session],
    job_id: str,
    user_id: str,
    tier: str,
    price: int,
    reservation: QuotaReservation | None,
    exc: Exception,
) -> None:
    with factory() as session, session.begin():
        job = session.get_one(BackgroundRemovalJob, job_id, with_for_update=True)
        job.status = "failed"
        job.errorMessage = f"{type(exc).__name__}: {exc}"[:500]
        job.completedAt = utcnow()
        if reservation is not None:
            release_quota(session, user_id, reservation, tier, 1)
        else:
            refund_credits(
                session, user_id, price, reference_type=JOB_REFERENCE, reference_id=job_id
            )
    log.warning("removal failed and was refunded", extra={"job_id": job_id})
