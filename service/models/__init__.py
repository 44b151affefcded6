"""The service's models: the schema's single source of truth (as ``schema.prisma`` was)."""

from service.models.background_remover import (
    BackgroundRemovalBatch,
    BackgroundRemovalJob,
    BackgroundRemoverSubscription,
    BackgroundRemoverSubscriptionUsage,
)
from service.models.base import Base, new_id, utcnow
from service.models.core import App, Credit, IdempotencyKey, User

metadata = Base.metadata

__all__ = [
    "App",
    "BackgroundRemovalBatch",
    "BackgroundRemovalJob",
    "BackgroundRemoverSubscription",
    "BackgroundRemoverSubscriptionUsage",
    "Base",
    "Credit",
    "IdempotencyKey",
    "User",
    "metadata",
    "new_id",
    "utcnow",
]
