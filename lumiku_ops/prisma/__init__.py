"""Prisma projects: ``schema.prisma``, ``prisma/migrations/`` and ``_prisma_migrations``."""
