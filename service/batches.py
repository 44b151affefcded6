"""``POST /batch``: validate every file, charge once, record the items, queue the work.

Charging, the batch row, its items and their queue jobs commit in one transaction.
The original charged the whole batch and then relied on a worker no deployment started.
The files are stored before that transaction (a worker may start on an item as soon as
it commits) and removed again when it does not commit: a refused batch leaves nothing.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import IO, Any

from procrastinate import App
from sqlalchemy.orm import Session, sessionmaker

from service.credits import deduct_credits
from service.idempotency import Recorder
from service.models import BackgroundRemovalBatch, BackgroundRemovalJob, new_id
from service.pricing import calculate_batch_pricing
from service.queue import defer_items
from service.storage import MediaStore, sanitize_name
from service.subscriptions import reserve_quota

BATCH_REFERENCE = "background_removal_batch"
FINAL_JOB_STATUSES = ("completed", "failed")
FINAL_BATCH_STATUSES = ("completed", "partial", "failed")
_NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"


def nanoid(size: int = 12) -> str:
    """A URL-safe public id, like the original's ``nanoid(12)``."""
    return "".join(secrets.choice(_NANOID_ALPHABET) for _ in range(size))


def create_batch(
    factory: sessionmaker[Session],
    store: MediaStore,
    queue: App,
    *,
    user_id: str,
    tier: str,
    uploads: list[tuple[str, IO[bytes] | bytes, int]],
    record: Recorder,
) -> dict[str, Any]:
    """Store the files, charge (quota or credits), record and queue; return the response.

    ``uploads`` are validated images: (file name, content, size in bytes). ``record``
    stores the response for an idempotency key in the same commit as the charge, so a
    crash can never leave a charged batch whose key would run it again.

    Raises:
        ApiError: 402 when credits are insufficient (nothing is recorded or kept then).
    """
    batch_pk, public_id = new_id(), nanoid()
    stamp = int(time.time() * 1000)
    urls: list[str] = []
    try:
        for index, (name, content, _) in enumerate(uploads):
            urls.append(
                store.write("uploads", f"{user_id}_{stamp}_{index}_{sanitize_name(name)}", content)
            )
        response = _charge_and_queue(
            factory,
            queue,
            batch_pk,
            public_id,
            user_id=user_id,
            tier=tier,
            uploads=uploads,
            urls=urls,
            record=record,
        )
    except BaseException:
        store.delete(*urls)
        raise
    return response


def _charge_and_queue(
    factory: sessionmaker[Session],
    queue: App,
    batch_pk: str,
    public_id: str,
    *,
    user_id: str,
    tier: str,
    uploads: list[tuple[str, IO[bytes] | bytes, int]],
    urls: list[str],
    record: Recorder,
) -> dict[str, Any]:
    pricing = calculate_batch_pricing(len(uploads), tier)
    with factory() as session, session.begin():
        reservation = reserve_quota(session, user_id, tier, len(uploads))
        if reservation is None:
            deduct_credits(
                session,
                user_id,
                pricing.finalPrice,
                description="background_removal_batch",
                reference_type=BATCH_REFERENCE,
                reference_id=batch_pk,
            )
        session.add(
            BackgroundRemovalBatch(
                id=batch_pk,
                userId=user_id,
                batchId=public_id,
                status="pending",
                totalImages=len(uploads),
                tier=tier,
                totalCredits=pricing.finalPrice,
                discountPercentage=float(pricing.discountPercentage),
                originalPrice=pricing.originalPrice,
                finalPrice=pricing.finalPrice,
            )
        )
        session.flush()
        jobs = [
            BackgroundRemovalJob(
                id=new_id(),
                userId=user_id,
                batchId=batch_pk,
                itemIndex=index,
                status="pending",
                originalUrl=url,
                originalSize=size,
                tier=tier,
                creditsUsed=0 if reservation else pricing.creditPerImage,
                pricingType="subscription" if reservation else "credit",
            )
            for index, (url, (_, _, size)) in enumerate(zip(urls, uploads, strict=True))
        ]
        session.add_all(jobs)
        session.flush()
        defer_items(queue, session.connection(), [job.id for job in jobs])
        body: dict[str, Any] = {
            "message": "Batch processing started",
            "batch": {"id": public_id, "totalImages": len(uploads), "status": "pending"},
        }
        record(session, body)
    return body


def progress_percentage(batch: BackgroundRemovalBatch) -> float:
    """Share of the batch's items in a final state, 0-100."""
    if not batch.totalImages:
        return 0.0
    done = batch.processedImages + batch.failedImages
    return round(done * 100 / batch.totalImages, 2)
