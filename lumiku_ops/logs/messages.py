"""PostgreSQL's error messages (and Prisma's): which SQLSTATE, which object they name.

PostgreSQL's messages name the object in a fixed shape per SQLSTATE, which is how a message
without a SQLSTATE (a plain-text log) still gets one. Apart from ``parsers`` because this is
the vocabulary, not the reading: ``linking`` names the conditions from here too.
"""

from __future__ import annotations

import re

# Every pattern runs on lines of up to 1 MiB, so each is linear in the line: a quantifier
# followed by something that can fail is possessive (``++``, ``*+``) and never spans what
# starts another match, so an unanchored search does not rescan the rest of the line from
# every offset. tests/logs/test_linear_patterns.py runs each one on crafted 1 MiB lines.

# SQLSTATE -> the message shapes that name its object (PostgreSQL 12-17 wording).
MESSAGES: dict[str, list[re.Pattern[str]]] = {
    # 'column "c" of relation "t" does not exist' is 42703, not a missing relation.
    "42P01": [
        re.compile(r'(?<!of )relation "(?P<object>[^"]++)" does not exist'),
        # Prisma's P2021 (its query engine checks the table before PostgreSQL can say so).
        re.compile(r"The table `(?P<object>[^`]++)` does not exist in the current database"),
    ],
    "42703": [
        # Prisma's P2022: `table.column` or `schema.table.column`.
        re.compile(
            r"The column `(?:[^`.]++\.)?(?P<table>[^`.]++)\.(?P<column>[^`]++)` does not exist"
            r" in the current database"
        ),
        re.compile(r"The column `(?P<column>[^`]++)` does not exist in the current database"),
        re.compile(r'column "(?P<column>[^"]++)" of relation "(?P<table>[^"]++)" does not exist'),
        re.compile(r'column "?(?P<table>[^".\s]++)\.(?P<column>[^"\s]++)"? does not exist'),
        re.compile(r'column "(?P<column>[^"]++)" does not exist'),
    ],
    "42501": [
        re.compile(
            r"permission denied for (?P<kind>table|relation|view|sequence|schema|function)"
            r' "?(?P<object>[^"\s]++)"?'
        ),
        # What PostgreSQL says to a DROP or an ALTER by a role that does not own the table.
        re.compile(
            r'must be owner of (?P<kind>table|relation|view|sequence) "?(?P<object>[^"\s]++)"?'
        ),
    ],
    "3F000": [re.compile(r'schema "(?P<object>[^"]++)" does not exist')],
    # The arguments stop at the next "(": PostgreSQL prints argument types without a typmod,
    # and "function f(((..." no longer rescans the rest of the line from every "(".
    "42883": [
        re.compile(r"(?P<kind>function|operator) (?P<object>[^\s(]++\([^()]*+\)) does not exist")
    ],
}
SQLSTATE_NAMES = {
    "42P01": "undefined_table",
    "42703": "undefined_column",
    "42501": "insufficient_privilege",
    "3F000": "invalid_schema_name",
    "42883": "undefined_function",
}
# Prisma's error codes, as the SQLSTATE PostgreSQL would have given for the same mistake.
PRISMA_CODES = {"P2021": "42P01", "P2022": "42703"}


def match_message(message: str, sqlstate: str | None = None) -> tuple[str | None, dict[str, str]]:
    """The SQLSTATE (given, or inferred from the wording) and the objects the message names."""
    states = [sqlstate] if sqlstate in MESSAGES else list(MESSAGES)
    for state in states:
        for pattern in MESSAGES[state or ""]:
            found = pattern.search(message)
            if found:
                return state, {k: v for k, v in found.groupdict().items() if v}
    return sqlstate, {}
