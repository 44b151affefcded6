"""Pure formatters for endpoint verification: curl-style transcripts, a hurl-style summary,
and JUnit XML. Each returns a string; the CLI prints it, a notebook displays it.

Transcripts follow curl: ``* curl ...`` to replay the request, ``>`` lines for what was
sent, ``<`` lines for what came back, then the body (truncated with a byte count). Failures
follow hurl: ``error: <category>``, ``--> METHOD URL``, ``expected <200>, actual <500>`` and
one line of evidence. Everything is passed through :func:`lumiku_ops.redaction.redact`
once more on the way out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lumiku_ops.escaping import escape_control
from lumiku_ops.redaction import redact
from lumiku_ops.verify.results import CheckResult, Verification

BODY_LIMIT = 512
RULE = "-" * 80
_LABEL_WIDTH = 19


def format_transcript(result: CheckResult, *, body_limit: int = BODY_LIMIT) -> str:
    """One check as curl would show it, ending with its outcome or a hurl-style error.

    Args:
        result: The check's final result.
        body_limit: Show at most this many characters of the response body.

    Returns:
        The transcript, without a trailing newline.
    """
    exchange = result.exchange
    check = result.check
    lines = [f"* {check.name}: {check.method} {check.path}", f"* {exchange.curl}"]
    lines.append(f"> {exchange.method} {exchange.request_target} HTTP/1.1")
    lines += [f"> {name}: {value}" for name, value in exchange.request_headers.items()]
    lines.append(">")
    if exchange.status is None:
        lines.append(f"* no response: {exchange.error_message}")
    else:
        lines.append(f"< {exchange.http_version} {exchange.status} {exchange.reason}".rstrip())
        lines += [f"< {name}: {value}" for name, value in exchange.response_headers.items()]
        lines.append("<")
        lines += _body_lines(exchange.body_text, exchange.body_bytes, body_limit)
    attempts = f"{result.attempts} attempt{'s' if result.attempts != 1 else ''}"
    timing = f"{exchange.latency_ms:g} ms"
    if result.passed:
        lines.append(f"* passed in {attempts}, {timing}")
    else:
        lines.append(f"* failed after {attempts}, {timing}")
        lines.append(_failure_block(result))
    # A body's control characters would drive the operator's terminal (and break JUnit XML).
    return escape_control(redact("\n".join(lines)))


def format_summary(verification: Verification) -> str:
    """The hurl-style block: a dashed rule, then aligned counts and the duration.

    Returns:
        For example::

            --------------------------------------------------------------------------------
            Checked endpoints: 3
            Passed:            3 (100.0%)
            Failed:            0 (0.0%)
            Duration:          42 ms
    """
    total = len(verification.checks)
    failed = len(verification.failed)
    rows = [
        ("Checked endpoints:", str(total)),
        ("Passed:", f"{total - failed} ({_percent(total - failed, total)})"),
        ("Failed:", f"{failed} ({_percent(failed, total)})"),
        ("Duration:", f"{verification.duration_ms} ms"),
    ]
    return "\n".join([RULE] + [f"{label:<{_LABEL_WIDTH}}{value}" for label, value in rows])


def format_verification(verification: Verification, *, body_limit: int = BODY_LIMIT) -> str:
    """Every check's transcript, separated by blank lines, then the summary block."""
    parts = [format_transcript(result, body_limit=body_limit) for result in verification.checks]
    return "\n\n".join([*parts, format_summary(verification)])


def format_junit(verification: Verification) -> str:
    """A JUnit XML report for CI: one testcase per check, with its transcript.

    A check that got no response is an ``<error>``; any other failed check a
    ``<failure>`` whose ``type`` is the category.

    Returns:
        The XML document, with its declaration, as a string.
    """
    total = len(verification.checks)
    errors = sum(1 for r in verification.failed if r.exchange.status is None)
    counts = {
        "tests": str(total),
        "failures": str(len(verification.failed) - errors),
        "errors": str(errors),
        "time": f"{verification.duration_ms / 1000:.3f}",
    }
    suites = ET.Element("testsuites", {"name": "lumiku-ops verify", **counts})
    suite = ET.SubElement(
        suites, "testsuite", {"name": verification.api_url, **counts, "skipped": "0"}
    )
    for result in verification.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": "lumiku-ops.verify",
                "name": f"{result.check.name}: {result.check.method} {result.check.path}",
                "time": f"{result.exchange.latency_ms / 1000:.3f}",
            },
        )
        if not result.passed:
            tag = "error" if result.exchange.status is None else "failure"
            problem = ET.SubElement(
                case,
                tag,
                {
                    "type": result.category or "failed",
                    "message": escape_control(
                        redact(f"{result.category}: {'; '.join(result.failures)}")
                    ),
                },
            )
            problem.text = escape_control(redact(_failure_block(result)))
        ET.SubElement(case, "system-out").text = format_transcript(result)
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _failure_block(result: CheckResult) -> str:
    lines = [
        f"error: {result.category or 'check failed'}",
        f"  --> {result.exchange.method} {result.exchange.url}",
    ]
    lines += [f"  {line}" for line in result.failures]
    if result.evidence:
        lines.append(f"  {result.evidence}")
    return "\n".join(lines)


def _body_lines(body: str, size: int, limit: int) -> list[str]:
    if not body:
        return []
    if "\x00" in body or "\ufffd" in body:
        return [f"<{size} bytes of binary data>"]
    if len(body) <= limit:
        return body.splitlines()
    shown = body[:limit]
    return [*shown.splitlines(), f"* body truncated: {len(shown.encode())} of {size} bytes shown"]


def _percent(part: int, whole: int) -> str:
    return f"{(100.0 * part / whole) if whole else 0.0:.1f}%"
