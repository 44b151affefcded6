"""The verify formatters, asserted with exact strings (hurl/httpx habit): no HTTP here."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from lumiku_ops.verify.endpoints import Check, Exchange
from lumiku_ops.verify.probe import curl_command, mask_headers
from lumiku_ops.verify.results import CheckResult, Verification
from lumiku_ops.verify.transcript import (
    format_junit,
    format_summary,
    format_transcript,
    format_verification,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1MSJ9.c2lnbmF0dXJlLXZhbHVl"
URL = "http://127.0.0.1:8000/api/background-remover/jobs"
CURL = f"curl -sS -X GET '{URL}' -H 'Authorization: Bearer ***'"
JOBS = Check(name="jobs", path="/api/background-remover/jobs", json={"jobs": []})


def exchange(**overrides: Any) -> Exchange:
    values: dict[str, Any] = {
        "method": "GET",
        "url": URL,
        "status": 200,
        "latency_ms": 12.5,
        "request_headers": {"Host": "127.0.0.1:8000", "Authorization": "Bearer ***"},
        "response_headers": {"content-type": "application/json", "content-length": "11"},
        "body_text": '{"jobs":[]}',
        "curl": CURL,
        "reason": "OK",
        "body_bytes": 11,
        "request_target": "/api/background-remover/jobs",
    }
    values.update(overrides)
    return Exchange(**values)


def passed(**overrides: Any) -> CheckResult:
    return CheckResult(check=JOBS, exchange=exchange(**overrides), failures=[], passed=True)


def server_error(attempts: int = 3) -> CheckResult:
    body = '{"error":"Internal Server Error","requestId":"req-1"}'
    return CheckResult(
        check=JOBS,
        exchange=exchange(
            status=500,
            reason="Internal Server Error",
            response_headers={"content-type": "application/json", "x-request-id": "req-1"},
            body_text=body,
            body_bytes=len(body),
        ),
        failures=["expected <200>, actual <500>"],
        passed=False,
        attempts=attempts,
        category="server error",
        evidence='{"error": "Internal Server Error", "requestId": "req-1"}',
    )


def refused() -> CheckResult:
    message = "nothing is listening on 127.0.0.1:8000; is the service up?"
    return CheckResult(
        check=JOBS,
        exchange=exchange(
            status=None,
            reason="",
            latency_ms=0.8,
            response_headers={},
            body_text="",
            body_bytes=0,
            error_category="connection refused",
            error_message=message,
        ),
        failures=["expected <200>, actual <no response>"],
        passed=False,
        category="connection refused",
        evidence=message,
    )


def test_a_passing_check_reads_like_curl_verbose() -> None:
    assert format_transcript(passed()) == (
        "* jobs: GET /api/background-remover/jobs\n"
        f"* {CURL}\n"
        "> GET /api/background-remover/jobs HTTP/1.1\n"
        "> Host: 127.0.0.1:8000\n"
        "> Authorization: Bearer ***\n"
        ">\n"
        "< HTTP/1.1 200 OK\n"
        "< content-type: application/json\n"
        "< content-length: 11\n"
        "<\n"
        '{"jobs":[]}\n'
        "* passed in 1 attempt, 12.5 ms"
    )


def test_a_failing_check_ends_with_a_hurl_shaped_error() -> None:
    assert format_transcript(server_error()) == (
        "* jobs: GET /api/background-remover/jobs\n"
        f"* {CURL}\n"
        "> GET /api/background-remover/jobs HTTP/1.1\n"
        "> Host: 127.0.0.1:8000\n"
        "> Authorization: Bearer ***\n"
        ">\n"
        "< HTTP/1.1 500 Internal Server Error\n"
        "< content-type: application/json\n"
        "< x-request-id: req-1\n"
        "<\n"
        '{"error":"Internal Server Error","requestId":"req-1"}\n'
        "* failed after 3 attempts, 12.5 ms\n"
        "error: server error\n"
        f"  --> GET {URL}\n"
        "  expected <200>, actual <500>\n"
        '  {"error": "Internal Server Error", "requestId": "req-1"}'
    )


def test_no_response_is_reported_without_response_lines() -> None:
    assert format_transcript(refused()) == (
        "* jobs: GET /api/background-remover/jobs\n"
        f"* {CURL}\n"
        "> GET /api/background-remover/jobs HTTP/1.1\n"
        "> Host: 127.0.0.1:8000\n"
        "> Authorization: Bearer ***\n"
        ">\n"
        "* no response: nothing is listening on 127.0.0.1:8000; is the service up?\n"
        "* failed after 1 attempt, 0.8 ms\n"
        "error: connection refused\n"
        f"  --> GET {URL}\n"
        "  expected <200>, actual <no response>\n"
        "  nothing is listening on 127.0.0.1:8000; is the service up?"
    )


def test_a_long_body_is_truncated_with_a_byte_count() -> None:
    body = '{"jobs": [' + ", ".join(['{"id": "j"}'] * 100) + "]}"
    text = format_transcript(passed(body_text=body, body_bytes=len(body)), body_limit=20)
    assert text.splitlines()[-3:] == [
        '{"jobs": [{"id": "j"',
        f"* body truncated: 20 of {len(body)} bytes shown",
        "* passed in 1 attempt, 12.5 ms",
    ]


def test_a_binary_body_is_summarised_not_dumped() -> None:
    text = format_transcript(passed(body_text="\x89PNG\x00\ufffd", body_bytes=2048))
    assert "<2048 bytes of binary data>" in text.splitlines()


def test_control_characters_in_a_body_are_shown_not_sent_to_the_terminal() -> None:
    body = "\x1b[2J\x1b]8;;http://127.0.0.1/x\x07click\x1b]8;;\x07\tok"
    result = passed(body_text=body, body_bytes=len(body))
    text = format_transcript(result)
    assert "\\x1b[2J\\x1b]8;;http://127.0.0.1/x\\x07click\\x1b]8;;\\x07\tok" in text
    assert "\x1b" not in text and "\x07" not in text
    ET.fromstring(format_junit(Verification(api_url=URL, checks=[result], duration_ms=1)))


def test_formatters_mask_a_token_that_slipped_into_a_body() -> None:
    text = format_transcript(passed(body_text=f'{{"echo": "Bearer {JWT}"}}'))
    assert JWT not in text
    assert '{"echo": "Bearer ***"}' in text


def test_summary_is_hurls_aligned_block() -> None:
    verification = Verification(
        api_url="http://127.0.0.1:8000",
        checks=[passed(), server_error(), passed()],
        duration_ms=1234,
    )
    assert format_summary(verification) == (
        "-" * 80 + "\n"
        "Checked endpoints: 3\n"
        "Passed:            2 (66.7%)\n"
        "Failed:            1 (33.3%)\n"
        "Duration:          1234 ms"
    )


def test_verification_is_the_transcripts_then_the_summary() -> None:
    verification = Verification(api_url="http://x", checks=[passed(), refused()], duration_ms=7)
    assert format_verification(verification) == "\n\n".join(
        [format_transcript(passed()), format_transcript(refused()), format_summary(verification)]
    )


def test_junit_counts_failures_and_errors_and_keeps_the_transcript() -> None:
    verification = Verification(
        api_url="http://127.0.0.1:8000",
        checks=[passed(), server_error(), refused()],
        duration_ms=1500,
    )
    xml = format_junit(verification)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    assert root.get("time") == "1.500"
    cases = root.findall("./testsuite/testcase")
    assert [case.get("name") for case in cases] == ["jobs: GET /api/background-remover/jobs"] * 3
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "server error"
    assert failure.get("message") == "server error: expected <200>, actual <500>"
    assert (failure.text or "").splitlines()[:3] == [
        "error: server error",
        f"  --> GET {URL}",
        "  expected <200>, actual <500>",
    ]
    error = cases[2].find("error")
    assert error is not None and error.get("type") == "connection refused"
    assert cases[1].findtext("system-out") == format_transcript(server_error())


def test_results_are_json_ready() -> None:
    verification = Verification(api_url="http://x", checks=[server_error()], duration_ms=3)
    data = verification.to_dict()
    assert data["passed"] is False
    assert (data["checked"], data["passed_count"], data["failed_count"]) == (1, 0, 1)
    check = data["checks"][0]
    assert check["category"] == "server error"
    assert check["attempts"] == 3
    assert check["status"] == 500
    assert check["check"]["json"] == {"jobs": []}
    assert check["exchange"]["curl"] == CURL


def test_curl_command_masks_the_token_and_url_password() -> None:
    command = curl_command(
        "POST",
        "http://ops:hunter2@api.local/x?q=it's",
        {"X-Trace": "abc", "X-Api-Key": "k-123456"},
        token_sent=True,
    )
    assert command == (
        "curl -sS -X POST 'http://ops:***@api.local/x?q=it'\\''s' "
        "-H 'Authorization: Bearer ***' -H 'X-Trace: abc' -H 'X-Api-Key: ***'"
    )


def test_mask_headers_keeps_the_scheme_and_hides_credentials() -> None:
    assert mask_headers(
        {"Authorization": f"Bearer {JWT}", "Cookie": "s=1", "X-Note": "token t0k3n!!"},
        ["t0k3n!!"],
    ) == {"Authorization": "Bearer ***", "Cookie": "***", "X-Note": "token ***"}
