"""The service's settings, as many real services read them: from its own environment.

``INVENTORY_DATABASE_URL`` names the database; the default is the one a container setup
would use. Tools that manage the schema must never rely on it: the migrations' ``env.py``
reads it too, whatever it is handed.
"""

from __future__ import annotations

import os

DATABASE_URL_ENV = "INVENTORY_DATABASE_URL"
DEFAULT_DATABASE_URL = "postgresql+psycopg://inventory@db:5432/inventory"


def database_url() -> str:
    """The service's database URL: ``$INVENTORY_DATABASE_URL``, else the container default."""
    return os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
