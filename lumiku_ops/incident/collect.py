"""What an incident folder holds: each executed runbook's recorded results and timings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumiku_ops.errors import ConfigError
from lumiku_ops.runbooks.catalogue import RUNBOOKS
from lumiku_ops.runbooks.steps import read_recorded


@dataclass
class ExecutedRunbook:
    """One runbook as papermill left it: when it ran, how it ended, what it recorded."""

    name: str
    notebook: Path
    started: datetime | None
    ended: datetime | None
    duration_s: float | None
    error: str | None
    recorded: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when papermill recorded no exception."""
        return self.error is None


@dataclass
class IncidentFolder:
    """The runbooks found in a folder, in the order an operator runs them."""

    folder: Path
    runbooks: dict[str, ExecutedRunbook]

    def recorded(self, runbook: str) -> dict[str, Any]:
        """What ``runbook`` recorded (empty when it did not run)."""
        found = self.runbooks.get(runbook)
        return found.recorded if found else {}

    @property
    def started(self) -> datetime | None:
        """When the first runbook started."""
        times = [r.started for r in self.runbooks.values() if r.started]
        return min(times) if times else None

    @property
    def ended(self) -> datetime | None:
        """When the last runbook ended."""
        times = [r.ended for r in self.runbooks.values() if r.ended]
        return max(times) if times else None


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    # Naive and aware times cannot be compared: a time without a zone is UTC (papermill's).
    return parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed


# The JSON shape of each recorded value the report reads. A tuple of types is a leaf;
# ("list", shape) a list of shape; ("map", shape) an object whose values are shape;
# ("record", {key: shape}) an object whose listed keys, when present, have their shapes.
Shape = Any
_NONE = type(None)
_TEXT: Shape = (str, _NONE)
_NUMBER: Shape = (int, float, _NONE)
_STATUS: Shape = (int, _NONE)
_SHAPES: dict[str, dict[str, Shape]] = {
    "01_diagnose_500s": {
        "verdict": _TEXT,
        "summary": _TEXT,
        "http_statuses": ("map", _STATUS),
        "log_chain": (
            "list",
            (
                "record",
                {
                    "time": _TEXT,
                    "first_time": _TEXT,
                    "count": (int,),
                    "request": _TEXT,
                    "request_id": _TEXT,
                    "revision": _TEXT,
                },
            ),
        ),
    },
    "02_create_migration": {"sql": _TEXT},
    "03_apply_migration": {
        "audit": ("list", ("record", {"at": _TEXT, "duration_ms": _NUMBER})),
    },
    "04_verify_endpoints": {
        "checks": ("list", ("record", {"path": _TEXT, "status": _STATUS})),
    },
}
_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a bool", _NONE: "null"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), "a number")


def _wrong_shape(value: Any, shape: Shape, where: str) -> str | None:
    """Where ``value`` first differs from ``shape``, described; ``None`` when it fits."""
    if isinstance(shape[0], str):
        container, inner = shape
        if isinstance(value, list) and container == "list":
            items = [(f"{where}[{i}]", item, inner) for i, item in enumerate(value)]
        elif not isinstance(value, dict) or container == "list":
            expected = _KINDS[list if container == "list" else dict]
            return f"{where} is {_kind(value)}, expected {expected}"
        elif container == "map":
            items = [(f"{where}.{key}", item, inner) for key, item in value.items()]
        else:
            items = [(f"{where}.{key}", value[key], inner[key]) for key in inner if key in value]
        found = (_wrong_shape(item, kind, at) for at, item, kind in items)
        return next((problem for problem in found if problem), None)
    # bool is an int to Python, never a number or a status to the report.
    if (isinstance(value, bool) and bool not in shape) or not isinstance(value, shape):
        kinds = " or ".join(dict.fromkeys(_KINDS.get(t, "a number") for t in shape))
        return f"{where} is {_kind(value)}, expected {kinds}"
    return None


def _check_recorded(path: Path, runbook: str, recorded: dict[str, Any]) -> None:
    for key, shape in _SHAPES.get(runbook, {}).items():
        if key in recorded and (problem := _wrong_shape(recorded[key], shape, key)):
            raise ConfigError(
                f"{path}: recorded value {problem}; the notebook was not written by this "
                f"version's runbook: run it again (lumiku-ops runbook run {runbook[:2]})"
            )


def read_incident_folder(folder: Path) -> IncidentFolder:
    """Read every executed runbook (``NN_name.ipynb``) in ``folder``.

    Raises:
        ConfigError: the folder does not exist or holds no executed runbook.
    """
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; give the folder `runbook run --out` wrote")
    found: dict[str, ExecutedRunbook] = {}
    for name in RUNBOOKS:
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            continue
        try:
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            recorded = read_recorded(path)
            papermill = metadata.get("papermill", {})
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError) as exc:
            raise ConfigError(f"{path} is not a readable notebook: {exc}") from None
        if not isinstance(papermill, dict):
            kind = _kind(papermill)
            raise ConfigError(f"{path}: its papermill metadata is {kind}, not an object")
        _check_recorded(path, name, recorded)
        duration = papermill.get("duration")
        if problem := _wrong_shape(duration, _NUMBER, "papermill duration"):
            raise ConfigError(f"{path}: {problem}")
        exception = papermill.get("exception")
        found[name] = ExecutedRunbook(
            name=name,
            notebook=path,
            started=_time(papermill.get("start_time")),
            ended=_time(papermill.get("end_time")),
            duration_s=duration,
            error="a step failed; its error banner is in the notebook" if exception else None,
            recorded=recorded,
        )
    if not found:
        raise ConfigError(
            f"no executed runbook in {folder}; run them first, e.g. "
            f"lumiku-ops runbook run 01 --out {folder}"
        )
    return IncidentFolder(folder=folder, runbooks=found)
