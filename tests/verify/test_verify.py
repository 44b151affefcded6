"""``lumiku-ops verify`` against the real service over real HTTP, on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from lumiku_ops.errors import CheckFailedError
from lumiku_ops.settings import load_settings
from lumiku_ops.verify.endpoints import Check, probe, raise_for_failed_checks, verify_endpoints
from tests.conftest import JWT_SECRET, REPO_ROOT
from tests.utils.db import upgrade
from tests.utils.factories import user_with_token
from tests.utils.service import RunningService, free_port

pytestmark = [pytest.mark.db, pytest.mark.http]

Factory = Callable[[str], RunningService]


def run_verify(
    *args: str, token: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"LUMIKU_TOKEN", "LUMIKU_API_URL"}}
    if token is not None:
        environ["LUMIKU_TOKEN"] = token
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "lumiku_ops", "verify", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO_ROOT,
        timeout=120,
    )


def started(fresh_db: str, service_factory: Factory, revision: str) -> tuple[RunningService, str]:
    upgrade(fresh_db, revision)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="verify@lumiku.local")
    return service_factory(fresh_db), token


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def test_default_checks_pass_at_head(fresh_db: str, service_factory: Factory) -> None:
    service, token = started(fresh_db, service_factory, "head")
    result = run_verify("--api-url", service.base_url, "--deadline", "5s", token=token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_no_traceback(result)
    out = result.stdout
    assert out.count("< HTTP/1.1 200 OK") == 3
    assert out.count("* passed in 1 attempt") == 3
    assert '{"jobs":[]}' in out
    assert (
        f"* curl -sS -X GET '{service.base_url}/api/background-remover/stats' "
        "-H 'Authorization: Bearer ***'"
    ) in out
    assert (
        "\nChecked endpoints: 3\nPassed:            3 (100.0%)\nFailed:            0 (0.0%)\n"
        in out
    )

    as_json = run_verify("--api-url", service.base_url, "--json", token=token)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["passed"] is True
    assert [c["name"] for c in data["checks"]] == ["subscription", "jobs", "stats"]
    assert [c["status"] for c in data["checks"]] == [200, 200, 200]


def test_revision_0001_fails_with_500s_and_writes_junit(
    fresh_db: str, service_factory: Factory, tmp_path: Path
) -> None:
    service, token = started(fresh_db, service_factory, "0001")
    report = tmp_path / "verify.xml"
    result = run_verify(
        "--api-url", service.base_url, "--deadline", "0", "--junit", str(report), token=token
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert_no_traceback(result)
    out = result.stdout
    assert out.count("< HTTP/1.1 500 Internal Server Error") == 3
    assert out.count("error: server error") == 3
    assert out.count("expected <200>, actual <500>") == 3
    assert f"  --> GET {service.base_url}/api/background-remover/jobs\n" in out
    assert '  {"error": "Internal Server Error", "requestId": "' in out
    assert re.search(
        r"\n-{80}\nChecked endpoints: 3\nPassed:            0 \(0\.0%\)\n"
        r"Failed:            3 \(100\.0%\)\nDuration:          \d+ ms\n$",
        out,
    )

    root = ET.parse(report).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "3", "0")
    types = [f.get("type") for f in root.iter("failure")]
    assert types == ["server error"] * 3


def test_retries_until_the_migration_lands(fresh_db: str, service_factory: Factory) -> None:
    service, token = started(fresh_db, service_factory, "0001")

    def migrate_later() -> None:
        time.sleep(1.0)
        upgrade(fresh_db, "head")

    migrator = threading.Thread(target=migrate_later)
    migrator.start()
    try:
        settings = load_settings(api_url=service.base_url).with_overrides(token=token)
        verification = verify_endpoints(settings, deadline_s=20.0, interval_s=0.5)
    finally:
        migrator.join()
    assert verification.passed is True, [c.to_dict() for c in verification.checks]
    assert all(c.attempts > 1 for c in verification.checks), [
        c.attempts for c in verification.checks
    ]
    assert [c.exchange.status for c in verification.checks] == [200, 200, 200]
    assert raise_for_failed_checks(verification) is verification


def test_service_down_is_a_failed_check_not_a_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_verify("--api-url", url, "--deadline", "1500ms", "--json", token="t-1234")
    assert result.returncode == 3, result.stderr
    assert_no_traceback(result)
    data = json.loads(result.stdout)
    assert [c["category"] for c in data["checks"]] == ["connection refused"] * 3
    assert all(c["attempts"] >= 2 for c in data["checks"])
    assert data["checks"][0]["exchange"]["status"] is None

    text = run_verify("--api-url", url, "--deadline", "0", token="t-1234")
    assert text.returncode == 3
    assert_no_traceback(text)
    assert text.stdout.count("error: connection refused") == 3
    assert "  expected <200>, actual <no response>\n" in text.stdout


def test_a_rejected_token_says_so(fresh_db: str, service_factory: Factory) -> None:
    service, _ = started(fresh_db, service_factory, "head")
    forged = jwt.encode({"userId": "u1", "exp": 4_102_444_800}, "x" * 40, algorithm="HS256")
    # Auth failures are not retried: a 60 s deadline must not mean a 60 s wait.
    started_at = time.monotonic()
    result = run_verify("--api-url", service.base_url, token=forged)
    assert time.monotonic() - started_at < 30
    assert result.returncode == 3
    assert result.stdout.count("error: token rejected") == 3
    assert '{"error": "Unauthorized - Invalid token"}' in result.stdout
    assert forged not in result.stdout + result.stderr

    missing = run_verify("--api-url", service.base_url, "--deadline", "0")
    assert missing.returncode == 3
    assert missing.stdout.count("error: no token sent") == 3


def test_token_env_names_another_variable(fresh_db: str, service_factory: Factory) -> None:
    service, token = started(fresh_db, service_factory, "head")
    ok = run_verify(
        "--api-url", service.base_url, "--token-env", "ONCALL_TOKEN", ONCALL_TOKEN=token
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    unset = run_verify("--api-url", service.base_url, "--token-env", "NOPE_TOKEN")
    assert unset.returncode == 1
    assert unset.stderr.startswith("error: the token variable NOPE_TOKEN is not set")


def test_a_checks_file_with_shape_and_max_latency(
    fresh_db: str, service_factory: Factory, tmp_path: Path
) -> None:
    service, token = started(fresh_db, service_factory, "head")
    checks = tmp_path / "checks.toml"
    checks.write_text(
        "[[checks]]\n"
        'name = "jobs by shape"\n'
        'path = "/api/background-remover/jobs"\n'
        'shape = { jobs = [{ id = "string" }] }\n'
        'max_latency = "5s"\n'
        "\n"
        "[[checks]]\n"
        'name = "stats by shape"\n'
        'path = "/api/background-remover/stats"\n'
        'shape = { stats = { totalBatches = "integer", hasSubscription = "boolean", '
        'plan = "string|null" } }\n'
        "\n"
        "[[checks]]\n"
        'name = "liveness"\n'
        'path = "/health"\n'
        "auth = false\n"
        'json = { status = "ok" }\n'
        "\n"
        "[[checks]]\n"
        'name = "wrong shape"\n'
        'path = "/api/background-remover/jobs"\n'
        'shape = { jobs = "object" }\n'
        "\n"
        "[[checks]]\n"
        'name = "impossible latency"\n'
        'path = "/health"\n'
        "auth = false\n"
        'max_latency = "0ms"\n'
    )
    result = run_verify(
        "--api-url",
        service.base_url,
        "--checks",
        str(checks),
        "--deadline",
        "0",
        "--json",
        token=token,
    )
    assert result.returncode == 3, result.stderr
    by_name = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert [by_name[n]["passed"] for n in ("jobs by shape", "stats by shape", "liveness")] == [
        True,
        True,
        True,
    ]
    assert by_name["liveness"]["exchange"]["request_headers"].get("Authorization") is None
    assert by_name["wrong shape"]["category"] == "shape mismatch"
    assert by_name["wrong shape"]["failures"] == ["expected <object> at $.jobs, actual <array>"]
    assert by_name["impossible latency"]["category"] == "too slow"
    assert by_name["impossible latency"]["failures"][0].startswith("expected <latency <= 0 ms>")


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("missing.json", None, "cannot read checks file"),
        ("broken.json", "[{", "is not valid JSON"),
        ("broken.toml", "[[checks]\npath=", "is not valid TOML"),
        ("typo.json", '[{"path": "/x", "staus": 200}]', "unknown field(s) staus"),
        ("secret.json", '[{"path": "/x", "headers": {"Authorization": "Bearer x"}}]', "token"),
    ],
)
def test_a_bad_checks_file_is_one_error_line(
    tmp_path: Path, name: str, content: str | None, phrase: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = run_verify("--api-url", "http://127.0.0.1:1", "--checks", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: "), result.stderr
    assert phrase in result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)


def test_usage_errors_exit_1_without_a_traceback() -> None:
    for args in (["--deadline", "soon"], ["--api-url", "ftp://example.com"]):
        result = run_verify(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: ")
        assert_no_traceback(result)


def test_no_secret_reaches_any_output(
    fresh_db: str, service_factory: Factory, tmp_path: Path
) -> None:
    service, token = started(fresh_db, service_factory, "head")
    password = "pa55-w0rd-hunter2"
    port = service.base_url.rsplit(":", 1)[1]
    authed_url = f"http://ops:{password}@127.0.0.1:{port}"
    down_url = f"http://ops:{password}@127.0.0.1:{free_port()}"
    checks = tmp_path / "checks.json"
    checks.write_text(
        json.dumps(
            [
                {"name": "jobs", "path": "/api/background-remover/jobs", "json": {"jobs": []}},
                {"name": "mismatch", "path": "/api/background-remover/jobs", "json": {"jobs": 1}},
                {"name": "balance", "path": "/api/credits/balance", "max_latency": "0ms"},
            ]
        )
    )
    outputs: list[str] = []
    for url in (authed_url, down_url):
        for mode in ([], ["--json"]):
            report = tmp_path / f"junit-{len(outputs)}.xml"
            result = run_verify(
                "--api-url",
                url,
                "--checks",
                str(checks),
                "--deadline",
                "0",
                "--junit",
                str(report),
                *mode,
                token=token,
            )
            assert result.returncode == 3, result.stdout + result.stderr
            outputs += [result.stdout, result.stderr, report.read_text()]
    assert "error: unexpected body" in outputs[0]  # the token was accepted despite the userinfo
    assert "error: connection refused" in outputs[6]
    for text in outputs:
        assert token not in text
        assert password not in text
        assert token.split(".")[2] not in text  # not even the signature
    assert "Authorization: Bearer ***" in outputs[0]
    assert f"http://ops:***@127.0.0.1:{port}" in outputs[0]

    settings = load_settings(api_url=authed_url).with_overrides(token=token)
    verification = verify_endpoints(
        settings, [Check(name="m", path="/x", status=418)], deadline_s=0
    )
    with pytest.raises(CheckFailedError) as info:
        raise_for_failed_checks(verification)
    assert [c.check.name for c in info.value.checks] == ["m"]
    for text in (str(info.value), json.dumps(verification.to_dict()), repr(verification)):
        assert token not in text and password not in text


@pytest.mark.parametrize("kind", ["timeout", "dns"])
def test_probe_turns_network_failures_into_categories(kind: str) -> None:
    with socket.socket() as silent:
        # Listening but never accepting: the kernel completes the handshake, no answer comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"http://127.0.0.1:{port}" if kind == "timeout" else "http://no-such-host.invalid"
        exchange = probe(url, "GET", "/health", "t-1234", timeout_s=0.5)
    assert exchange.status is None
    if kind == "timeout":
        assert exchange.error_category == "timeout"
        assert exchange.error_message == f"no answer from 127.0.0.1:{port} within 0.5 s"
    else:
        assert exchange.error_category == "could not resolve host"
        assert "no-such-host.invalid" in (exchange.error_message or "")
    assert "t-1234" not in json.dumps(exchange.to_dict())
