"""The service's log as evidence: read it within bounds, parse PostgreSQL errors, link them.

``reader`` reads the last N MiB of a file (or standard input) line by line, ``parsers``
turns JSON lines and plain text into ``LogEvent``s (``messages`` knows PostgreSQL's and
Prisma's error messages), and ``linking`` ties each error to a model table or column and to
the revision that creates it.
"""
