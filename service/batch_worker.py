"""What a worker does for a batch: each item once, refunds for failures, then the ZIP.

An item reaches a final state in exactly one transaction, which locks its row, checks
that it is not final yet, records the outcome, refunds a failure, counts it on the batch,
and (for the batch's last item) queues the finalisation. A worker killed at any point
therefore loses nothing and repeats nothing that was committed: a retried job finds the
item final and returns, or redoes only the uncommitted image work.
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from dataclasses import dataclass

from procrastinate import App
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.batches import FINAL_BATCH_STATUSES, FINAL_JOB_STATUSES
from service.credits import refund_credits
from service.errors import ApiError
from service.images import decode_image, encode_png, image_pixels, make_thumbnail
from service.models import (
    BackgroundRemovalBatch,
    BackgroundRemovalJob,
    BackgroundRemoverSubscription,
    utcnow,
)
from service.pricing import item_share
from service.queue import defer_finalize
from service.removal import PROVIDER, RemovalEngine
from service.single_removal import save_outputs
from service.storage import MediaStore
from service.subscriptions import QuotaReservation, day_key, release_quota

log = logging.getLogger("service")
ITEM_REFERENCE = "background_removal_batch_item"
ITEM_FAILED = "Background removal failed; this image was not charged"


@dataclass(frozen=True)
class WorkerRuntime:
    """What batch tasks need, built once per worker process."""

    factory: sessionmaker[Session]
    store: MediaStore
    engine: RemovalEngine
    queue: App


@dataclass(frozen=True)
class _Outcome:
    processed_url: str | None = None
    thumbnail_url: str | None = None
    processed_size: int | None = None
    model: str | None = None
    elapsed_ms: int | None = None
    error: str | None = None


def _start(runtime: WorkerRuntime, job_id: str) -> BackgroundRemovalJob | None:
    with runtime.factory() as session, session.begin():
        job = session.get(BackgroundRemovalJob, job_id, with_for_update=True)
        if job is None or job.status in FINAL_JOB_STATUSES:
            return None
        job.status = "processing"
        session.execute(
            update(BackgroundRemovalBatch)
            .where(
                BackgroundRemovalBatch.id == job.batchId, BackgroundRemovalBatch.status == "pending"
            )
            .values(status="processing", startedAt=utcnow())
        )
        session.flush()
        session.expunge(job)
        return job


def _remove(runtime: WorkerRuntime, job: BackgroundRemovalJob) -> _Outcome:
    try:
        data = runtime.store.read(job.originalUrl)
        # The same per-process bound as POST /remove, but a queued item waits its turn.
        with runtime.engine.heavy_slot(job.tier, image_pixels(data), wait_s=None):
            upload = decode_image(data)
            cutout = runtime.engine.remove(upload.image, job.tier)
            png = encode_png(cutout.image)
            processed, thumbnail = save_outputs(
                runtime.store, job.userId, job.id, png, make_thumbnail(cutout.image)
            )
    except ApiError as exc:  # a stored file that no longer decodes: safe to show
        log.warning("batch item failed", extra={"job_id": job.id, "error": exc.message})
        return _Outcome(error=exc.message[:500])
    except Exception:  # noqa: BLE001 - any failure of the image work fails the item
        # The exception stays in the log; the caller reads a plain sentence.
        log.warning("batch item failed", exc_info=True, extra={"job_id": job.id})
        return _Outcome(error=ITEM_FAILED)
    return _Outcome(
        processed_url=processed,
        thumbnail_url=thumbnail,
        processed_size=len(png),
        model=cutout.model,
        elapsed_ms=cutout.elapsed_ms,
    )


def process_batch_item(runtime: WorkerRuntime, job_id: str) -> None:
    """Take one batch item to a final state, exactly once."""
    job = _start(runtime, job_id)
    if job is None:
        return
    outcome = _remove(runtime, job)
    with runtime.factory() as session, session.begin():
        row = session.get_one(BackgroundRemovalJob, job_id, with_for_update=True)
        if row.status in FINAL_JOB_STATUSES:
            return
        row.completedAt = utcnow()
        if outcome.error is None:
            row.status = "completed"
            row.processedUrl = outcome.processed_url
            row.thumbnailUrl = outcome.thumbnail_url
            row.processedSize = outcome.processed_size
            row.aiProvider = PROVIDER
            row.modelName = outcome.model
            row.processingTime = outcome.elapsed_ms
        else:
            row.status = "failed"
            row.errorMessage = outcome.error
        batch = session.get_one(BackgroundRemovalBatch, row.batchId, with_for_update=True)
        if outcome.error is None:
            batch.processedImages += 1
        else:
            batch.failedImages += 1
            _give_back(session, row, batch)
        session.flush()
        if batch.processedImages + batch.failedImages == batch.totalImages:
            defer_finalize(runtime.queue, session.connection(), batch.id)


def _give_back(session: Session, job: BackgroundRemovalJob, batch: BackgroundRemovalBatch) -> None:
    if job.pricingType == "subscription":
        sub_id = session.scalar(
            select(BackgroundRemoverSubscription.id).where(
                BackgroundRemoverSubscription.userId == job.userId
            )
        )
        if sub_id is not None:
            reservation = QuotaReservation(subscription_id=sub_id, date=day_key(batch.createdAt))
            release_quota(session, job.userId, reservation, job.tier, 1)
        return
    if job.itemIndex is None:
        raise RuntimeError(f"batch item {job.id} has no itemIndex")
    refund_credits(
        session,
        job.userId,
        item_share(batch.finalPrice, batch.totalImages, job.itemIndex),
        reference_type=ITEM_REFERENCE,
        reference_id=job.id,
    )
    # Refunded: the item no longer costs anything (the original kept its price).
    job.creditsUsed = 0


def finalize(runtime: WorkerRuntime, batch_pk: str) -> None:
    """ZIP the completed items (``image_<n>.png``) and set the batch's final status."""
    with runtime.factory() as session:
        batch = session.get(BackgroundRemovalBatch, batch_pk)
        if batch is None or batch.status in FINAL_BATCH_STATUSES:
            return
        public_id = batch.batchId
        done = session.execute(
            select(BackgroundRemovalJob.itemIndex, BackgroundRemovalJob.processedUrl)
            .where(
                BackgroundRemovalJob.batchId == batch_pk,
                BackgroundRemovalJob.status == "completed",
            )
            .order_by(BackgroundRemovalJob.itemIndex)
        ).all()
    zip_url, zip_size = None, None
    if done:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for index, url in done:
                assert index is not None and url is not None
                archive.writestr(f"image_{index + 1}.png", runtime.store.read(url))
        data = buffer.getvalue()
        name = f"batch_{public_id}_{int(time.time() * 1000)}.zip"
        zip_url, zip_size = runtime.store.write("zips", name, data), len(data)
    with runtime.factory() as session, session.begin():
        batch = session.get_one(BackgroundRemovalBatch, batch_pk, with_for_update=True)
        if batch.status in FINAL_BATCH_STATUSES:
            return
        if batch.failedImages == 0:
            batch.status = "completed"
        elif batch.processedImages == 0:
            batch.status = "failed"
        else:
            batch.status = "partial"
        batch.zipUrl, batch.zipSize, batch.zipGenerated = zip_url, zip_size, zip_url is not None
        batch.completedAt = utcnow()
