"""The checks file and the shape language: pure logic, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lumiku_ops.errors import ConfigError
from lumiku_ops.project import load_project
from lumiku_ops.verify.endpoints import Check, default_checks, load_checks
from lumiku_ops.verify.shapes import first_difference, match_shape, validate_shape
from tests.utils.project import REFERENCE


def test_the_reference_projects_defaults_are_the_seeds_three_expected_answers() -> None:
    checks = default_checks(REFERENCE)
    assert [(c.name, c.method, c.path, c.status) for c in checks] == [
        ("subscription", "GET", "/api/background-remover/subscription", 200),
        ("jobs", "GET", "/api/background-remover/jobs", 200),
        ("stats", "GET", "/api/background-remover/stats", 200),
    ]
    assert checks[2].json == {
        "stats": {
            "totalSingleRemovals": 0,
            "totalBatches": 0,
            "hasSubscription": False,
            "plan": None,
        }
    }


def test_without_a_checks_file_each_endpoint_must_answer_200(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lumiku-ops]\nmetadata = "m:metadata"\nendpoints = ["/a", "/b?x=1"]\n'
    )
    project = load_project(tmp_path, migrations_dir=tmp_path)
    checks = default_checks(project)
    assert [(c.method, c.path, c.status, c.json) for c in checks] == [
        ("GET", "/a", 200, None),
        ("GET", "/b?x=1", 200, None),
    ]
    with pytest.raises(ConfigError, match="no checks: pass --checks FILE"):
        default_checks(replace(project, endpoints=()))
    with pytest.raises(ConfigError, match="no checks"):
        default_checks(None)


def test_a_toml_file_with_shape_latency_auth_and_json_text(tmp_path: Path) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(
        "[[checks]]\n"
        'name = "jobs"\n'
        'path = "/api/background-remover/jobs"\n'
        'shape = { jobs = [{ id = "string" }] }\n'
        'max_latency = "500ms"\n'
        "\n"
        "[[checks]]\n"
        'path = "/health"\n'
        "auth = false\n"
        'method = "get"\n'
        'json = \'{"status": "ok", "detail": null}\'\n'
        'headers = { X-Trace = "verify" }\n'
    )
    jobs, health = load_checks(path)
    assert jobs == Check(
        name="jobs",
        path="/api/background-remover/jobs",
        shape={"jobs": [{"id": "string"}]},
        max_latency_s=0.5,
    )
    assert health.name == "GET /health"
    assert health.auth is False
    assert health.json == {"status": "ok", "detail": None}
    assert dict(health.headers) == {"X-Trace": "verify"}


def test_a_json_file_may_be_a_bare_list(tmp_path: Path) -> None:
    path = tmp_path / "checks.json"
    path.write_text('[{"path": "/api/x", "status": 404, "max_latency": 2}]')
    assert load_checks(path) == [
        Check(name="GET /api/x", path="/api/x", status=404, max_latency_s=2.0)
    ]


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "non-empty list"),
        ('[{"path": "/x", "staus": 200}]', "unknown field(s) staus"),
        ('[{"name": "no path"}]', "'path' is required"),
        ('[{"path": "x"}]', "must be a string starting with '/'"),
        ('[{"path": "/x", "method": "FETCH"}]', "method 'FETCH'"),
        ('[{"path": "/x", "status": 999}]', "not an HTTP status"),
        ('[{"path": "/x", "json": {}, "shape": {}}]', "not both"),
        ('[{"path": "/x", "shape": {"a": "int"}}]', "shape at $.a: unknown type 'int'"),
        ('[{"path": "/x", "shape": ["string", "null"]}]', "exactly one shape"),
        ('[{"path": "/x", "max_latency": "fast"}]', "is not a duration"),
        ('[{"path": "/x", "headers": {"Authorization": "Bearer x"}}]', "from the environment"),
    ],
)
def test_invalid_files_say_what_is_wrong(tmp_path: Path, content: str, phrase: str) -> None:
    path = tmp_path / "checks.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_checks(path)
    assert phrase in str(info.value)
    assert str(path) in str(info.value)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read checks file .*No such file"):
        load_checks(tmp_path / "missing.toml")


def test_shapes_match_types_nesting_unions_and_array_items() -> None:
    shape = {"jobs": [{"id": "string", "size": "number"}], "plan": "string|null", "n": "integer"}
    assert validate_shape(shape) is None
    good = {"jobs": [{"id": "a", "size": 1}, {"id": "b", "size": 2.5}], "plan": None, "n": 3}
    assert match_shape(shape, {**good, "extra": True}) == []
    bad = {"jobs": [{"id": 1, "size": True}], "plan": 5}
    assert match_shape(shape, bad) == [
        "expected <string> at $.jobs[0].id, actual <integer>",
        "expected <number> at $.jobs[0].size, actual <boolean>",
        "expected <string|null> at $.plan, actual <integer>",
        "expected key <n> at $, actual <missing>",
    ]
    assert match_shape("array", {"jobs": []}) == ["expected <array> at $, actual <object>"]
    assert match_shape("any", None) == []


def test_exact_comparison_points_at_the_first_difference_and_minds_types() -> None:
    expected = {"stats": {"totalBatches": 0, "hasSubscription": False, "plan": None}}
    assert first_difference(expected, expected) is None
    assert first_difference(expected, {"stats": {**expected["stats"], "hasSubscription": 0}}) == (
        "expected <false> at $.stats.hasSubscription, actual <0>"
    )
    assert first_difference({"jobs": []}, {"jobs": [{"id": "x"}]}) == (
        "expected <0 items> at $.jobs, actual <1 items>"
    )
    assert (
        first_difference({"a": 1}, {"a": 1, "b": 2}) == "expected no key <b> at $, actual <present>"
    )
    assert first_difference({"a": 1}, {"a": 1.0}) is None
