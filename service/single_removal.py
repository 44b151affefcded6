"""``POST /remove``: validate, then charge, then remove; a failure is refunded.

The original charged before validating the upload and kept the credits when the upload
was rejected; here nothing is charged until the image has been decoded and the tier's
model is known to be installed. Nothing is stored until the charge succeeds, and a
removal that fails (and is refunded) leaves no file behind.

Every job reaches a final state. The request holds a lease on its job (see
``service.leases``) from before the charge is committed until the job is final; if the
process dies in between, the lease goes with it and ``recover_interrupted_removals``
(run at start-up, periodically, and by a retry that takes over the request's
idempotency key) fails the job and gives back what it was charged.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from service.credits import deduct_credits, refund_credits
from service.errors import sqlstate
from service.idempotency import Recorder
from service.images import DecodedImage, encode_png, make_thumbnail
from service.leases import JOB_LEASE, Lease, holder_is_gone
from service.models import BackgroundRemovalJob, BackgroundRemoverSubscription, new_id, utcnow
from service.pricing import tier_price
from service.removal import PROVIDER, RemovalEngine
from service.serializers import row_to_dict
from service.storage import MediaStore
from service.subscriptions import QuotaReservation, day_key, release_quota, reserve_quota

log = logging.getLogger("service")
JOB_REFERENCE = "background_removal_job"
REMOVED = "Background removed successfully"
# What a caller reads on a failed job; the exception itself goes to the log only.
REMOVAL_FAILED = "Background removal failed; nothing was charged"
REMOVAL_INTERRUPTED = "Background removal was interrupted; nothing was charged"


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
    held: Lease,
    store: MediaStore,
    engine: RemovalEngine,
    *,
    user_id: str,
    tier: str,
    upload: DecodedImage,
    source: bytes | IO[bytes],
    record: Recorder,
) -> dict[str, Any]:
    """Charge (quota or credits), store ``source``, remove the background, return the body.

    ``source`` is the upload as received (bytes or a spooled file), stored as the job's
    original once the charge has committed. Every statement runs on ``held``'s
    connection, which also holds the job's lease. ``record`` stores the response for an
    idempotency key in the completing commit.

    Raises:
        ModelNotInstalledError: before any charge, when the tier cannot run here.
        ApiError: 402 when credits are insufficient (nothing is written then).
    """
    engine.model_for(tier)
    job_id = new_id()
    # Leased before the job exists, so recovery never mistakes it for an abandoned one.
    held.hold(JOB_LEASE, job_id)
    original_name = f"{user_id}_{job_id}_original.{upload.extension}"
    original_url = store.url("uploads", original_name)
    with held.sessions() as session, session.begin():
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
    except Exception:
        # The detail (and the request id) goes to the log; the job says only what failed.
        log.exception("removal failed", extra={"job_id": job_id, "tier": tier})
        with held.sessions() as session, session.begin():
            job = session.get_one(BackgroundRemovalJob, job_id, with_for_update=True)
            settle_failure(session, job, REMOVAL_FAILED, reservation)
        log.warning("removal failed and was refunded", extra={"job_id": job_id})
        # Refunded, so nothing of it is kept: the original and any output already written.
        store.delete(original_url, *output_urls(store, user_id, job_id))
        raise
    with held.sessions() as session, session.begin():
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
        body = {"message": REMOVED, "job": row_to_dict(job)}
        record(session, body)
        return body


def settle_failure(
    session: Session,
    job: BackgroundRemovalJob,
    message: str,
    reservation: QuotaReservation | None = None,
) -> None:
    """Fail a single job and give back what it took, in the caller's transaction.

    A credit job is refunded and then shows ``creditsUsed`` 0 (the original kept the
    tier price on a refunded job); a subscription job returns its removal to the quota
    of the day it was taken from.
    """
    job.status = "failed"
    job.errorMessage = message
    job.completedAt = utcnow()
    if job.pricingType == "subscription":
        if reservation is None:
            subscription_id = session.scalar(
                select(BackgroundRemoverSubscription.id).where(
                    BackgroundRemoverSubscription.userId == job.userId
                )
            )
            if subscription_id is not None:
                reservation = QuotaReservation(subscription_id, day_key(job.createdAt))
        if reservation is not None:
            release_quota(session, job.userId, reservation, job.tier, 1)
        return
    refund_credits(
        session, job.userId, job.creditsUsed, reference_type=JOB_REFERENCE, reference_id=job.id
    )
    job.creditsUsed = 0


def recover_interrupted_removals(
    factory: sessionmaker[Session], *, user_id: str | None = None, limit: int = 200
) -> int:
    """Fail and refund single jobs left ``processing`` by a process that died.

    A job counts as abandoned only when its lease is free, so work still running in
    this or any other process is left alone. Returns how many jobs were recovered.
    """
    query = (
        select(BackgroundRemovalJob.id)
        .where(
            BackgroundRemovalJob.batchId.is_(None),
            BackgroundRemovalJob.status == "processing",
        )
        .order_by(BackgroundRemovalJob.createdAt)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(BackgroundRemovalJob.userId == user_id)
    with factory() as session:
        candidates = session.scalars(query).all()
    recovered = 0
    for job_id in candidates:
        with factory() as session, session.begin():
            if not holder_is_gone(session, JOB_LEASE, job_id):
                continue
            job = session.get(BackgroundRemovalJob, job_id, with_for_update=True)
            if job is None or job.status != "processing":
                continue
            settle_failure(session, job, REMOVAL_INTERRUPTED)
            recovered += 1
            log.warning(
                "interrupted removal failed and refunded",
                extra={"job_id": job_id, "user_id": job.userId},
            )
    return recovered


def schema_missing(exc: BaseException) -> bool:
    """True for "no such table": the Background Remover's tables are not created yet."""
    return isinstance(exc, ProgrammingError) and sqlstate(exc) == "42P01"
