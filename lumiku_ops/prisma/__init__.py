"""Prisma projects: the schema read from ``.prisma`` files, and Prisma's own schema engine
(WebAssembly, from npm, driven by Node) that turns it into SQL offline.

``schema`` reads a schema file or folder; ``engine`` installs the pinned engine and runs its
operations (schema to SQL, migrations to schema, database to schema, history diagnosis).
"""
