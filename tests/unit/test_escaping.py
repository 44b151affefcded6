"""Escaping text from outside: exact strings, what renderers make of them, linear time."""

from __future__ import annotations

import time

import mistune
import pytest
from nbconvert.filters.markdown import markdown2html

from lumiku_ops.escaping import (
    add_content_security_policy,
    code_block,
    code_span,
    escape_control,
    escape_html,
    escape_markdown,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('relation "Job" does not exist', 'relation "Job" does not exist'),
        ("column user_id of background_jobs", "column user_id of background_jobs"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("![t](http://127.0.0.1/p.png)", "!\\[t\\](http\\://127.0.0.1/p.png)"),
        ("password=***", "password=\\*\\*\\*"),
        ("_em_ `code` a|b", "\\_em\\_ \\`code\\` a\\|b"),
        ("~~s~~ $x$ &lt;", "\\~\\~s\\~\\~ \\$x\\$ \\&lt;"),
        ("C:\\temp", "C:\\\\temp"),
        ("one\ntwo\r\nthree", "one two  three"),
        ("# heading", "\\# heading"),
        ("  - item", "  \\- item"),
        ("12. item", "12\\. item"),
        ("3) item", "3\\) item"),
        ("2026-12-05", "2026-12-05"),
        ("\x1b[31mred\x00", "\\x1b\\[31mred\\x00"),
    ],
)  # fmt: skip
def test_escape_markdown_exact(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


HOSTILE = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> ![t](http://127.0.0.1/p.png) "
    "[click](http://127.0.0.1/x) <http://127.0.0.1/a> http://127.0.0.1/b *** **b** _i_ "
    "`tick` | ~~s~~ $x$ &lt;\n# h\n- li\n1. ol\n> q\n    code"
)


@pytest.mark.parametrize(
    "render",
    [markdown2html, mistune.create_markdown(escape=True, plugins=["table"])],
    ids=["nbconvert", "incident"],
)
def test_escaped_markdown_renders_as_its_text(render: object) -> None:
    rendered = str(render(f"| a |\n|---|\n| {escape_markdown(HOSTILE)} |"))  # type: ignore[operator]
    for tag in ("<img", "<script", "<a ", "<em", "<strong", "<del", "<h1", "<li", "<blockquote"):
        assert tag not in rendered, tag
    assert rendered.count("<td>") == 1
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert "*** **b** _i_ `tick` | ~~s~~ $x$ &amp;lt; # h - li 1. ol &gt; q     code" in rendered


def test_code_span_and_block() -> None:
    assert code_span("GET /api/items") == "`GET /api/items`"
    assert code_span("a`b") == "a\\`b"  # a backtick would end the span: escaped text instead
    assert code_span("a|b") == "a\\|b"  # renderers keep \| inside a span: escaped text instead
    assert code_block("x\n```\ny", "sql") == "````sql\nx\n```\ny\n````"
    assert code_block("plain") == "```\nplain\n```"
    assert code_block("\x1b]8;;x\x07") == "```\n\\x1b]8;;x\\x07\n```"
    assert escape_control("a\tb\nc\x1b\x9b\x7f") == "a\tb\nc\\x1b\\x9b\\x7f"


def test_escape_html_and_the_policy() -> None:
    assert escape_html("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    page = add_content_security_policy("<html><head><script src=x></script></head></html>")
    assert page.index("Content-Security-Policy") < page.index("<script")
    assert "default-src 'none'" in page


def test_escaping_is_linear() -> None:
    def seconds(text: str) -> float:
        started = time.perf_counter()
        escape_markdown(text)
        code_block(text)
        code_span(text)
        return time.perf_counter() - started

    for piece in ("_" * 7, "a_" * 3, "`" * 5, "<&|*", "1" * 9):
        small, large = seconds(piece * 20_000), seconds(piece * 200_000)
        assert large < max(20 * small, 0.5), (piece, small, large)


def test_a_summary_keeps_its_code_spans_and_nothing_else() -> None:
    from lumiku_ops.escaping import escape_markdown_keeping_code

    assert escape_markdown_keeping_code("column `orders.note` is *missing*") == (
        "column `orders.note` is \\*missing\\*"
    )
    hostile = "table `<img src=x onerror=alert(1)>` then [a](http://198.51.100.1/x)"
    kept = escape_markdown_keeping_code(hostile)
    assert kept.startswith("table `<img src=x onerror=alert(1)>` then \\[a\\]")
    assert "](http://" not in kept
    # An unbalanced backtick: the whole sentence is text.
    assert escape_markdown_keeping_code("a `b") == escape_markdown("a `b")
