"""Text from outside (log lines, response bodies, URLs, names read from a database) shown as
text, never as markup.

Masking (:mod:`lumiku_ops.redaction`) hides secrets; escaping keeps the rest inert. Mask
first: an escaped secret no longer matches the secret. Every function here is linear in the
text's length (a table lookup per character, fixed-width look-arounds, no backtracking).
"""

from __future__ import annotations

import html
import re

# No Content-Security-Policy lets a report reach another host: no script, no remote image,
# font or style sheet, no form or <base>. Inline styles and embedded (data:) charts still work.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'

# Control characters (but tab and line breaks) drive a terminal: ESC [ 2 J clears it, OSC 8
# makes links. Shown as \xNN, they are inert in a terminal, in Markdown and in HTML.
_CONTROLS = {
    code: f"\\x{code:02x}"
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]
    if code not in (0x09, 0x0A, 0x0D)
}
_CONTROL = str.maketrans(_CONTROLS)
# Characters that start inline Markdown anywhere (emphasis, code, links, images, raw HTML,
# entities, table cells, strikethrough, math). Line breaks would start a new block.
_INLINE = str.maketrans(
    {**_CONTROLS, **{c: "\\" + c for c in "\\`*[]<>&|~$"}, "\n": " ", "\r": " "}
)
# An underscore between two letters or digits is never emphasis; elsewhere it may be.
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BLOCK_START = "#+-="
_BACKTICKS = re.compile(r"`+")


def escape_html(text: object) -> str:
    """``text`` for an HTML page: ``& < > " '`` become entities."""
    return html.escape(str(text), quote=True)


def escape_control(text: object) -> str:
    """``text`` with control characters other than tab and line breaks shown as ``\\xNN``."""
    return str(text).translate(_CONTROL)


def escape_markdown(text: object) -> str:
    """``text`` for Markdown, on one line: it renders as itself, never as markup.

    Backslash-escapes what could start emphasis, code, a link or image, raw HTML, an entity,
    a table cell, strikethrough or math; breaks a bare ``http://`` autolink; folds line
    breaks into spaces; shows control characters as ``\\xNN``; and escapes a heading,
    list or quote marker at its start.
    """
    escaped = _UNDERSCORE.sub(r"\\_", str(text).translate(_INLINE)).replace("://", "\\://")
    start = len(escaped) - len(escaped.lstrip(" \t"))
    if escaped[start : start + 1] in tuple(_BLOCK_START):
        return f"{escaped[:start]}\\{escaped[start:]}"
    digits = start
    while digits < len(escaped) and escaped[digits].isdigit() and digits - start < 10:
        digits += 1
    if digits > start and escaped[digits : digits + 1] in (".", ")"):
        return f"{escaped[:digits]}\\{escaped[digits:]}"
    return escaped


def code_span(text: object) -> str:
    """``text`` as inline code when that is safe, else as escaped text.

    Inside a code span nothing is markup, but a backtick would end it and a ``|`` ends a
    table cell (renderers do not unescape it there), and a line break ends the line.
    """
    value = str(text)
    if (
        value
        and value.isprintable()
        and "`" not in value
        and "|" not in value
        and value.strip() == value
    ):
        return f"`{value}`"
    return escape_markdown(value)


def escape_markdown_keeping_code(text: object) -> str:
    """``text`` escaped like :func:`escape_markdown`, but its balanced `` `code` `` spans kept.

    For recorded sentences of ours that name things in code spans (a verdict's summary):
    each span's content goes through :func:`code_span` and the rest is escaped, so nothing
    in it becomes markup, and a reader sees ``orders.note`` set as code, not backticks.
    """
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unbalanced backtick: show the whole text as text
        return escape_markdown(text)
    return "".join(
        code_span(part) if index % 2 else escape_markdown(part) for index, part in enumerate(parts)
    )


def code_block(text: object, language: str = "") -> str:
    """``text`` as a fenced code block whose fence no line of ``text`` can close."""
    value = escape_control(str(text).rstrip())
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{value}\n{fence}"


def add_content_security_policy(page: str) -> str:
    """``page`` (an HTML document) with :data:`CSP_META` first in its ``<head>``.

    The policy applies only to what follows it, so it goes before anything that loads.
    """
    head = page.find("<head>")
    if head < 0:
        return CSP_META + "\n" + page
    at = head + len("<head>")
    return f"{page[:at]}\n{CSP_META}{page[at:]}"
