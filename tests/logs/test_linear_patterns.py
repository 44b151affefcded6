"""Every regex on the path of a log line is linear in the line: parsing and masking.

Each compiled pattern of the parser (and of the messages it matches) and of the masking is
found by walking the modules, so a new pattern is tested without anyone listing it. Each is
run against every crafted line of ``tests/utils/worst_cases.py`` at a small size; its
slowest lines are then timed at 1 MiB, the longest line the reader hands over. A linear
pattern needs well under a second there (a quadratic one needed minutes); the bound is
generous for a loaded CI machine.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from lumiku_ops import redaction
from lumiku_ops.logs import messages, parsers
from lumiku_ops.logs.parsers import LogParser
from lumiku_ops.redaction import redact
from tests.utils.worst_cases import MIB, worst_lines

BOUND_S = 5.0  # measured: the slowest pattern takes about 0.3 s on a 1 MiB line
SMALL = worst_lines(16 * 1024)
FULL = worst_lines(MIB)


def _patterns(value: Any, name: str) -> Iterator[tuple[str, re.Pattern[str]]]:
    if isinstance(value, re.Pattern):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _patterns(item, f"{name}[{key}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _patterns(item, f"{name}[{index}]")


def compiled_patterns(*modules: ModuleType) -> dict[str, re.Pattern[str]]:
    """Every compiled pattern a module holds, in a global or in a dict, list or tuple."""
    found: dict[str, re.Pattern[str]] = {}
    seen: set[int] = set()
    for module in modules:
        for name, value in vars(module).items():
            for label, pattern in _patterns(value, f"{module.__name__}.{name}"):
                if id(pattern) not in seen:
                    seen.add(id(pattern))
                    found[label] = pattern
    return found


PATTERNS = compiled_patterns(messages, parsers, redaction)


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _every_match(pattern: re.Pattern[str], line: str) -> Callable[[], object]:
    # finditer restarts after each match, as re.sub does: the whole line is searched.
    return lambda: sum(1 for _ in pattern.finditer(line))


def _slowest(work: Callable[[str], Callable[[], object]], count: int = 2) -> list[str]:
    """The names of the crafted lines ``work`` takes longest on, at the small size."""
    timed = sorted(SMALL, key=lambda name: _seconds(work(SMALL[name])), reverse=True)
    return timed[:count]


def test_the_walk_finds_the_parser_and_masking_patterns() -> None:
    assert PATTERNS["lumiku_ops.logs.messages.MESSAGES[42883][0]"].pattern.startswith("(?P<kind>")
    assert "lumiku_ops.redaction._JWT" in PATTERNS
    assert len(PATTERNS) >= 20


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_pattern_is_linear_on_its_worst_crafted_line(name: str) -> None:
    pattern = PATTERNS[name]
    for line in _slowest(lambda text: _every_match(pattern, text)):
        elapsed = _seconds(_every_match(pattern, FULL[line]))
        assert elapsed < BOUND_S, f"{name} took {elapsed:.1f} s on 1 MiB of {line}"


def _as_service_record(line: str) -> str:
    return json.dumps(
        {
            "request_id": "r1",
            "path": line,
            "status": 500,
            "sqlstate": "42P01",
            "time": line,
            "exc_info": f"psycopg.errors.UndefinedTable: {line}\n[SQL: {line}]",
        }
    )


def _parse(line: str) -> Callable[[], object]:
    def work() -> object:
        parser = LogParser()
        parser.feed(line)
        parser.feed(" STATEMENT:  " + line)
        return parser.events()

    return work


@pytest.mark.parametrize(
    ("stage", "work"),
    [
        ("a plain-text line", _parse),
        ("a service record", lambda line: _parse(_as_service_record(line))),
        ("masking", lambda line: lambda: redact(line, ["known-secret"])),
    ],
)
def test_a_crafted_1_mib_line_is_parsed_and_masked_in_linear_time(
    stage: str, work: Callable[[str], Callable[[], object]]
) -> None:
    for line in _slowest(work, count=3):
        elapsed = _seconds(work(FULL[line]))
        assert elapsed < BOUND_S, f"{stage}: {elapsed:.1f} s on 1 MiB of {line}"


def test_a_line_that_is_an_error_keeps_its_evidence_masked_and_bounded() -> None:
    parser = LogParser()
    parser.feed(f'ERROR:  relation "BackgroundRemovalJob" does not exist {"x" * MIB} password=pw')
    # The message is cut at MAX_MESSAGE characters, in the middle of this URL's password.
    head = 'relation "Other" does not exist '
    url = "postgresql://svc:Secret-Pw-123@db/prod"
    pad = "y" * (parsers.MAX_MESSAGE - len(head) - len("postgresql://svc:Secr"))
    parser.feed(f"ERROR:  {head}{pad}{url}")
    first, second = parser.events()
    assert first.fields == {"object": "BackgroundRemovalJob"}
    assert first.message is not None and len(first.message) == parsers.MAX_MESSAGE
    # The secret is masked whole before the cut, not left half visible after it.
    assert second.message is not None and second.message.startswith(head + pad)
    assert "Secr" not in second.message
