"""Crafted log lines that make a backtracking regex slow, for the linearity tests and the bench.

Each unit is repeated to the line's size; a few are a short head followed by a long tail,
the other classic shape (one start that scans far, then fails). Every pattern of the log
parser and of the masking is run against every line, so the catalogue only has to contain
each pattern's worst case once, not to know which pattern it belongs to.
"""

from __future__ import annotations

MIB = 1024 * 1024

# Repeated to the full size.
UNITS = [
    "function f(",  # 42883: every "(" used to start a rescan of the rest of the line
    "operator +(",
    "function public.f(integer, ",
    'relation "',
    'relation "a" does not exis ',
    'column "',
    "column a.",
    'column "a.b',
    'column "c" of relation "',
    "permission denied for table ",
    'schema "',
    "psycopg.errors.X: ",
    "[SQL: ",
    " ERROR:  ",
    " ERROR: \\n",
    " app@db [42P01] ",
    " user=",
    " STATEMENT:  ",
    " at character 1",
    "+0000",
    "-eyJ",  # the JWT pattern used to rescan a run of token characters from every eyJ
    "eyJa.",
    "eyJ.",
    "Bearer ",
    "Bearer a",
    "://a:",
    "://a:b@",
    "://a:b/",
    "postgresql://u:",
    "@",
    "password='\\'",
    "password=",
    'password="',
    "password:",
    '"password": "\\"',
    "'secret': '",
    '\\"token\\": \\"',
    "tokentoken",
    "x_api_key",
    "access_token",
    "Authorization: Basic ",
    "Authorization: ",
    "Cookie: ",
    "AKIA",
    "AKIAAAAAAAAAAAAA",
    "PGPASSWORD=",
    "a",
    "a ",
    "(",
    '"',
    "'",
    "=",
    ":",
    "\\",
    ".",
    "-",
    " ",
]
# A short head, then a long tail of one character.
HEADS = [
    ("function f(", "a"),
    ("function f(", " "),
    ('relation "', "a"),
    ("column a.", "a"),
    ('column "a.', "b"),
    ("eyJa", "-"),
    ("eyJa.b", "-"),
    ("Bearer ", "a"),
    ("postgresql://u:", "a"),
    ("postgresql://u:", "/"),
    ("password='", "a"),
    ('"password": "', "a"),
    ("2026-01-01 00:00:00 ", "a"),
    ("2026-01-01 00:00:00 UTC [1] ERROR:", " "),
    ("ERROR:  ", "a"),
    ("psycopg.errors.UndefinedTable: ", "a"),
]


def worst_lines(size: int = MIB) -> dict[str, str]:
    """Each crafted line of ``size`` characters, by a short name."""
    lines = {}
    for unit in UNITS:
        lines[f"repeat {unit!r}"] = (unit * (size // len(unit) + 1))[:size]
    for head, fill in HEADS:
        lines[f"{head!r} then {fill!r}"] = head + fill * (size - len(head))
    return lines


def ordinary_lines() -> list[str]:
    """What the reference service logs in a day: requests, and a 500 as its two records."""
    return [
        '{"time": "2026-11-23T05:51:01.123+00:00", "level": "INFO", "logger": "service", '
        '"message": "request", "request_id": "3f2a9c1e77d04b7e", "method": "GET", '
        '"path": "/api/credits/balance", "status": 200, "duration_ms": 4.1}',
        '{"time": "2026-11-23T05:51:02.456+00:00", "level": "ERROR", "logger": "service", '
        '"message": "unhandled error", "request_id": "9b1d2c3e4f5a6b7c", "sqlstate": "42P01", '
        '"exc_info": "Traceback (most recent call last):\\n  File \\"/app/service/api.py\\", '
        "line 88, in list_jobs\\npsycopg.errors.UndefinedTable: relation "
        '\\"BackgroundRemovalJob\\" does not exist\\nLINE 1: SELECT count(*) FROM '
        '\\"BackgroundRemovalJob\\"\\n[SQL: SELECT count(*) FROM \\"BackgroundRemovalJob\\" '
        'WHERE user_id = %(user_id)s]"}',
        '{"time": "2026-11-23T05:51:02.457+00:00", "level": "INFO", "logger": "service", '
        '"message": "request", "request_id": "9b1d2c3e4f5a6b7c", "method": "GET", '
        '"path": "/api/background-remover/jobs?limit=20", "status": 500, "duration_ms": 9.7}',
        "2026-11-23 05:51:03.789 UTC [1234] app_rw@prod ERROR:  permission denied for table "
        "BackgroundRemovalJob",
        "2026-11-23 05:51:03.789 UTC [1234] app_rw@prod STATEMENT:  "
        'DELETE FROM "BackgroundRemovalJob"',
        "2026-11-23 05:51:04.000 UTC [1240] LOG:  checkpoint starting: time",
    ]
