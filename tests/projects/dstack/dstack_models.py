"""dstack's models, with what its env.py loads before Alembic compares them.

dstack's ``migrations/env.py`` imports ``alembic_postgresql_enum``, which registers Alembic
comparators for PostgreSQL enum values; importing it here gives lumiku-ops the same
comparison. (An ``include_object``-style hook key would be the place once it exists.)
"""

import alembic_postgresql_enum  # noqa: F401  (registers its comparators on import)
from dstack._internal.server.models import BaseModel

metadata = BaseModel.metadata
