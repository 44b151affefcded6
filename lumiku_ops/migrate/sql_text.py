"""What of a SQL script PostgreSQL would execute as statements, for the lint's own rules.

A regex over a script's raw text also matches a ``DELETE`` in a comment, in a string or
in the body of a ``CREATE FUNCTION``: none of them runs when the migration runs (a
function's body runs when the function is called). ``executed_text`` blanks those parts
out, keeping every other character (and every newline) where it was, so positions and
line numbers found in it are those of the script. The lexing follows PostgreSQL's: ``--``
and nested ``/* */`` comments, ``'...'`` with doubled quotes, ``E'...'`` with backslash
escapes, ``$tag$...$tag$`` bodies. A ``DO`` block's body does run, so it is kept.
"""

from __future__ import annotations

import re

DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def after_quoted(sql: str, i: int, quote: str, *, backslashes: bool) -> int:
    """The index just past the quoted text opening at ``i`` (doubled quotes stay inside)."""
    j = i + 1
    while j < len(sql):
        if backslashes and sql[j] == "\\":
            j += 2
        elif sql[j] == quote:
            if sql.startswith(quote * 2, j):
                j += 2
            else:
                return j + 1
        else:
            j += 1
    return len(sql)


def after_comment(sql: str, i: int) -> int:
    """The index just past the ``/* ... */`` comment opening at ``i`` (they nest)."""
    depth, j, n = 1, i + 2, len(sql)
    while j < n and depth:
        if sql.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif sql.startswith("*/", j):
            depth, j = depth - 1, j + 2
        else:
            j += 1
    return j


def executed_text(sql: str) -> str:
    """``sql`` with comments, string literals and dollar-quoted bodies (but a ``DO``
    block's) replaced by spaces, newlines kept: the same length, the same lines."""
    out = list(sql)
    first_word: str | None = None  # of the current statement
    i, n = 0, len(sql)

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        char = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif sql.startswith("/*", i):
            end = after_comment(sql, i)
            blank(i, end)
            i = end
        elif char == "'":
            end = after_quoted(sql, i, "'", backslashes=False)
            blank(i + 1, end - 1)
            i = end
        elif char == '"':
            i = after_quoted(sql, i, '"', backslashes=False)  # an identifier: kept
        elif char == "$" and (tag := DOLLAR_TAG.match(sql, i)):
            close = sql.find(tag.group(), tag.end())
            end = n if close < 0 else close + len(tag.group())
            if first_word != "DO":
                blank(tag.end(), end - len(tag.group()) if close >= 0 else n)
            i = end
        elif char == ";":
            first_word, i = None, i + 1
        elif match := _WORD.match(sql, i):
            word = match.group().upper()
            if word == "E" and match.end() < n and sql[match.end()] == "'":
                end = after_quoted(sql, match.end(), "'", backslashes=True)
                blank(match.end() + 1, end - 1)
                i = end
                continue
            if first_word is None:
                first_word = word
            i = match.end()
        else:
            i += 1
    return "".join(out)


def statement_lines(executed: str) -> list[tuple[int, int, str]]:
    """Each statement of ``executed`` (an ``executed_text``, so no ``;`` of a body or a
    string splits one) as (first line, last line, its text)."""
    found = []
    start = 0
    for end in [*(m.start() for m in re.finditer(";", executed)), len(executed)]:
        text = executed[start:end]
        if text.strip():
            offset = start + len(text) - len(text.lstrip())
            first, last = executed.count("\n", 0, offset) + 1, executed.count("\n", 0, end) + 1
            found.append((first, last, text))
        start = end + 1
    return found
