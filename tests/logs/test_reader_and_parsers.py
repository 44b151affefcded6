"""Reading hostile and huge logs: bounded, lossless where it matters, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lumiku_ops.errors import ConfigError
from lumiku_ops.logs.messages import match_message
from lumiku_ops.logs.parsers import LogParser
from lumiku_ops.logs.reader import MAX_LINE_BYTES, MIB, read_lines
from tests.utils.cli import lumiku

REPO_ROOT = Path(__file__).resolve().parents[2]
# As the reference service writes them (service/errors.py), traceback shortened.
ERROR = {
    "time": "2026-11-23T05:51:01+0000",
    "level": "ERROR",
    "logger": "service",
    "message": "unhandled error",
    "exc_info": 'Traceback ...\npsycopg.errors.UndefinedTable: relation "BackgroundRemovalJob"'
    ' does not exist\nLINE 2: FROM "BackgroundRemovalJob" \n[SQL: SELECT "BackgroundRemovalJob"'
    '.id \nFROM "BackgroundRemovalJob"]',
    "request_id": "7fbe35ef1a3f44a4a0e2eb3c29c60a97",
    "method": "GET",
    "path": "/api/background-remover/jobs",
    "sqlstate": "42P01",
    "error_type": "ProgrammingError",
}
REQUEST = {
    "time": "2026-11-23T05:51:01+0000",
    "message": "request",
    "request_id": "7fbe35ef1a3f44a4a0e2eb3c29c60a97",
    "method": "GET",
    "path": "/api/background-remover/jobs",
    "status": 500,
    "duration_ms": 32.9,
}
OK = {"message": "request", "request_id": "a" * 32, "path": "/api/apps", "status": 200}


def parse(lines: list[str]) -> LogParser:
    parser = LogParser()
    for line in lines:
        parser.feed(line)
    return parser


def test_the_two_records_of_a_500_merge_by_request_id() -> None:
    (event,) = parse([json.dumps(ERROR), json.dumps(OK), json.dumps(REQUEST)]).events()
    assert (event.request_id, event.path, event.status) == (
        REQUEST["request_id"],
        REQUEST["path"],
        500,
    )
    assert (event.sqlstate, event.fields) == ("42P01", {"object": "BackgroundRemovalJob"})
    assert event.verb == "SELECT"
    assert event.time is not None and event.time.isoformat() == "2026-11-23T05:51:01+00:00"


@pytest.mark.parametrize(
    ("message", "state", "fields"),
    [
        ('relation "public.BackgroundRemovalJob" does not exist', "42P01",
         {"object": "public.BackgroundRemovalJob"}),
        ("column BackgroundRemovalBatch.userId does not exist", "42703",
         {"table": "BackgroundRemovalBatch", "column": "userId"}),
        ('column "zz" of relation "TT" does not exist', "42703", {"column": "zz", "table": "TT"}),
        ('column "nope" does not exist', "42703", {"column": "nope"}),
        ("permission denied for table BackgroundRemovalJob", "42501",
         {"kind": "table", "object": "BackgroundRemovalJob"}),
        ('schema "legacy" does not exist', "3F000", {"object": "legacy"}),
        ("function lumiku_f(integer, unknown) does not exist", "42883",
         {"kind": "function", "object": "lumiku_f(integer, unknown)"}),
        ("duplicate key value violates unique constraint", None, {}),
    ],
)  # fmt: skip
def test_each_sqlstate_names_its_object(
    message: str, state: str | None, fields: dict[str, str]
) -> None:
    # The wording, exactly as PostgreSQL 15 returned it for these statements.
    assert match_message(message) == (state, fields)


def test_postgresql_server_log_lines_and_their_statement() -> None:
    (denied, missing) = parse(
        [
            "2026-11-23 05:51:01.123 UTC [1234] app@prod ERROR:  permission denied for table "
            "BackgroundRemovalJob",
            "2026-11-23 05:51:01.123 UTC [1234] app@prod STATEMENT:  "
            'DELETE FROM "BackgroundRemovalJob"',
            "2026-11-23 05:51:02.5 UTC [99] ERROR:  42703: column BackgroundRemovalBatch.zipUrl "
            "does not exist at character 8",
        ]
    ).events()
    assert (denied.source, denied.sqlstate, denied.role, denied.verb) == (
        "postgres", "42501", "app", "DELETE",
    )  # fmt: skip
    assert denied.time is not None and denied.time.microsecond == 123000
    assert (missing.sqlstate, missing.fields) == (
        "42703", {"table": "BackgroundRemovalBatch", "column": "zipUrl"},
    )  # fmt: skip
    # The verbose SQLSTATE and PostgreSQL's " at character N" are not part of the message.
    assert missing.message == "column BackgroundRemovalBatch.zipUrl does not exist"


def test_nul_bytes_non_utf8_and_a_truncated_last_line(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_bytes(
        b"\x00\x00garbage \xff\xfe not utf-8\n"
        + json.dumps(ERROR).encode().replace(b"unhandled", b"unhan\x00dled")
        + b"\n"
        + json.dumps(REQUEST).encode()[:-20]  # cut mid-record: the writer died
    )
    lines = list(read_lines(str(log)))
    assert len(lines) == 3
    assert "\x00" not in "".join(lines) and "\ufffd" in lines[0]
    (event,) = parse(lines).events()
    # The error record survives; the cut request record is text without a status.
    assert (event.sqlstate, event.path, event.status) == ("42P01", REQUEST["path"], None)


def test_a_huge_single_line_is_capped_and_the_next_line_still_read(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    with log.open("wb") as stream:
        stream.write(b"x" * (3 * MAX_LINE_BYTES + 17) + b"\n")
        stream.write(json.dumps(ERROR).encode() + b"\n")
    lines = list(read_lines(str(log)))
    assert [len(line) for line in lines[:1]] == [MAX_LINE_BYTES]
    assert len(lines) == 2
    assert parse(lines).events()[0].sqlstate == "42P01"


def test_the_window_keeps_only_whole_lines_of_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("first line\n" + "second line\n" + "third\n")
    assert list(read_lines(str(log), max_bytes=len("d line\nthird\n"))) == ["third"]
    assert list(read_lines(str(log), max_bytes=len("third\n"))) == ["third"]
    assert list(read_lines(str(log), max_bytes=10**9)) == ["first line", "second line", "third"]


def test_a_missing_file_or_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read log file .*nope\.log: No such file"):
        list(read_lines(str(tmp_path / "nope.log")))
    with pytest.raises(ConfigError, match="it is a folder|Is a directory"):
        list(read_lines(str(tmp_path)))


def _special_files(tmp_path: Path) -> list[str]:
    fifo = tmp_path / "nobody-writes.fifo"
    os.mkfifo(fifo)
    return ["/dev/zero", str(fifo)]


def test_a_device_or_a_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    for source in _special_files(tmp_path):
        # In a child with a deadline: reading either one used to never end.
        child = subprocess.run(
            [sys.executable, "-c", CHECK, source],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO_ROOT,
        )
        assert child.stdout.strip() == "refused: it is not a regular file", (source, child)


def test_diagnose_refuses_a_special_log_file_with_one_error_line(tmp_path: Path) -> None:
    for source in _special_files(tmp_path):
        result = lumiku("diagnose", "--log", source, "--json", timeout=60)
        assert result.returncode == 1, (source, result.stderr)
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: cannot read log file {source}: it is not a regular file (a device, "
            "FIFO or socket); give a log file, or - for standard input"
        ]


CHECK = """
import sys
from lumiku_ops.errors import ConfigError
from lumiku_ops.logs.reader import check_readable, read_lines
try:
    check_readable(sys.argv[1])
except ConfigError as exc:
    try:
        next(read_lines(sys.argv[1]))
    except ConfigError:
        print("refused:", str(exc).split(": ", 1)[1].split(" (")[0])
"""

READ_GIB = """
import resource, sys
from lumiku_ops.logs.linking import read_log_events
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
events, lines = read_log_events([sys.argv[1]], max_bytes=int(sys.argv[2]))
print(len(events), lines, events[-1].path, events[-1].sqlstate,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, before)
"""


def test_a_1_gib_log_is_read_within_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    tail = (json.dumps(OK) + "\n").encode() * (16 * MIB // 100)
    with log.open("wb") as stream:
        # Sparse: 1 GiB on paper, a few MiB on disk; the last MiBs are real records.
        stream.truncate(1024 * MIB - len(tail) - 2 * 1024)
        stream.seek(0, 2)
        stream.write(b"\n" + json.dumps(ERROR).encode() + b"\n" + json.dumps(REQUEST).encode())
        stream.write(b"\n" + tail)
    try:
        assert log.stat().st_size >= 1024 * MIB - 2048
        # The whole file, not only the default window: memory is bounded by the line cap.
        out = subprocess.run(
            [sys.executable, "-c", READ_GIB, str(log), str(2048 * MIB)],
            capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, check=True,
        )  # fmt: skip
        count, lines, path, state, added_kib, imports_kib = out.stdout.split()
        assert (count, path, state) == ("1", REQUEST["path"], "42P01")
        assert int(lines) > 1024  # the NUL megabytes were read as lines, then the records
        # What reading added to the peak, beyond the interpreter and its imports (which
        # vary with the machine): a whole-file read would add about a GiB; one run on a
        # loaded machine once peaked 165 MiB above its imports, hence the margin.
        added, imports = int(added_kib) // 1024, int(imports_kib) // 1024
        assert added < 256, f"reading 1 GiB added {added} MiB to a {imports} MiB process"
    finally:
        log.unlink()
