"""A log full of HTML and Markdown renders as text in every report, and opening a report
sends no request anywhere: the diagnosis (CLI), runbook 01's notebook and HTML, the incident
report and the demo's index page, checked on the files and in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mistune
import pytest
from nbconvert.filters.markdown import markdown2html

from lumiku_ops.runbooks.run import run_runbook
from tests.utils.cli import lumiku
from tests.utils.db import upgrade
from tests.utils.migrations import scratch

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]
MARKER = "PWNED"
# What markup from the log would become once rendered; none of it may appear. (Emphasis and
# links of the reports' own are allowed: the text checks below show the log's stayed text.)
FORBIDDEN_TAGS = re.compile(r"<(img|script|del|iframe)\b", re.IGNORECASE)


class Sentinel(ThreadingHTTPServer):
    """A loopback server playing the failing service (500s with a hostile body) and the
    remote host the hostile links and images point at; it notes every request."""

    requests: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Sentinel

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = hostile(self.server.url).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    server = Sentinel(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hostile(url: str) -> str:
    """HTML, Markdown and a masked secret, as a log message or response body could hold."""
    return (
        f"<img src=x onerror=\"document.title='{MARKER}'\"> "
        f"<script>document.title='{MARKER}'</script> "
        f"![t]({url}/p.png) [click]({url}/x) <{url}/auto> {url}/bare "
        "Bearer abc.def *** `tick` | a | b ~~gone~~ $x$ _em_ &lt;b&gt;"
    )


def hostile_log(path: Path, url: str) -> Path:
    """Service log records whose message, path and request id carry ``hostile``."""
    lines = []
    for number, table in enumerate(("BackgroundRemovalJob", "BackgroundRemoverSubscription")):
        lines.append(
            json.dumps(
                {
                    "time": f"2026-12-05T03:0{number}:00+00:00",
                    "level": "ERROR",
                    "msg": "unhandled error",
                    "request_id": f"<b>r{number}</b>|`x\n# id",
                    "method": "GET",
                    "path": f"/api/x{number}<img src=x onerror=alert(1)>\n# Heading\n"
                    f"![t]({url}/p{number}.png)",
                    "status": 500,
                    "sqlstate": "42P01",
                    "exc_info": "Traceback (most recent call last):\n"
                    f'psycopg.errors.UndefinedTable: relation "{table}" does not exist '
                    f"{hostile(url)}\n",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_markdown_is_text(markdown: str, url: str) -> None:
    """Rendered as notebooks (nbconvert) and the incident report (mistune) render it, the
    Markdown holds the hostile text as text: no tag, link, image, emphasis or heading."""
    for rendered in (
        markdown2html(markdown),
        str(mistune.create_markdown(escape=True, plugins=["table"])(markdown)),
    ):
        assert FORBIDDEN_TAGS.search(rendered) is None, FORBIDDEN_TAGS.findall(rendered)
        assert f'href="{url}' not in rendered and f'src="{url}' not in rendered
        shown = html.unescape(re.sub(r"<[^>]+>", "", rendered))
        assert f"<img src=x onerror=\"document.title='{MARKER}'\">" in shown
        assert f"![t]({url}/p.png) [click]({url}/x)" in shown
        assert "Bearer *** *** `tick` | a | b ~~gone~~ $x$ _em_ &lt;b&gt;" in shown
        assert "<img src=x onerror=alert(1)> # Heading ![t]" in shown  # one line, no heading
        for row in re.findall(r"<tr>(.*?)</tr>", rendered, re.DOTALL):
            if "<td>" in row and "relation" in row:  # an evidence chain row: still 5 or 6 cells
                assert row.count("<td") in (5, 6), row


def assert_page_is_inert(page: str, url: str) -> None:
    """An HTML report: the policy first in its head, no live markup, no remote script."""
    policy = page.index('<meta http-equiv="Content-Security-Policy"')
    assert page.index("<head>") < policy < page.index("</head>")
    assert "<script" not in page[:policy] and "default-src 'none'" in page[policy:]
    assert re.search(r"<img\b", page, re.IGNORECASE) is None
    assert f"<script>document.title='{MARKER}'" not in page
    assert re.search(rf"<[^>]*\s(src|href)=[\"']?{re.escape(url)}", page) is None
    assert re.search(r"<script[^>]+src=[\"']?https?:", page) is None


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM headless Chromium builds from ``page`` once it has loaded."""
    try:
        completed = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-proxy-server", f"--user-data-dir={profile}",
             "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page.name} never finished loading: it waits for a resource elsewhere")
    return completed.stdout


def test_hostile_log_renders_as_text_everywhere_and_reports_fetch_nothing(
    fresh_db: str, sentinel: Sentinel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sentinel.url
    upgrade(fresh_db, "0001")
    migrations = scratch(tmp_path, without=("0002",))
    log = hostile_log(tmp_path / "service.log", url)

    # lumiku-ops diagnose --log: the Markdown it prints.
    diagnosed = lumiku(
        "diagnose", "--database-url", fresh_db, "--api-url", url,
        "--migrations", str(migrations), "--log", str(log),
    )  # fmt: skip
    assert diagnosed.returncode == 3, diagnosed.stdout + diagnosed.stderr
    assert "## Verdict: MIGRATION_NOT_CREATED" in diagnosed.stdout
    assert_markdown_is_text(diagnosed.stdout, url)

    # Runbook 01 through papermill: every Markdown output, and both HTML renderings.
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("LUMIKU_MIGRATIONS_DIR", str(migrations))
    out = tmp_path / "reports"
    run = run_runbook(
        "01_diagnose_500s",
        parameters={"api_url": url, "log_file": str(log), "expected_verdict": ""},
        out_dir=out,
    )
    assert run.passed, run.error
    assert run.recorded["verdict"] == "MIGRATION_NOT_CREATED"
    notebook = json.loads(run.notebook.read_text())
    outputs = [
        "".join(output["data"]["text/markdown"])
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if "text/markdown" in output.get("data", {})
    ]
    assert_markdown_is_text("\n\n".join(outputs), url)

    # lumiku-ops report: incident.md and incident.html.
    reported = lumiku("report", str(out))
    assert reported.returncode == 3, reported.stdout + reported.stderr
    assert_markdown_is_text((out / "incident.md").read_text(), url)

    # The demo's index page, with hostile text wherever outside text can reach it.
    from lumiku_ops.reference.demo import DemoResult
    from lumiku_ops.reference.index_page import write_index

    index = DemoResult(
        report_dir=out, verdict=hostile(url), revision_created=hostile(url),
        differences=[hostile(url)], error=hostile(url), incident=out / "incident.html",
        before={f"/x<img src={url}/i.png>": 500}, after={f"/x<img src={url}/i.png>": 200},
        runs=[run],
    )  # fmt: skip
    write_index(index)

    pages = [run.html, run.html_with_code, out / "incident.html", out / "index.html"]
    for page in pages:
        assert_page_is_inert(page.read_text(), url)

    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed: the files were checked, not rendered")
    sentinel.requests.clear()
    for page in pages:
        dom = dump_dom(page, tmp_path / "chromium-profile")
        assert "onerror" in dom  # the hostile text is there, as text
        assert re.search(r"<img[^>]*onerror", dom) is None, page.name
        assert re.search(rf"<[^>]*\s(src|href)=\"{re.escape(url)}", dom) is None, page.name
        assert f"<title>{MARKER}" not in dom, page.name
    assert sentinel.requests == []  # no report reached the "remote" host when opened
