"""What an incident folder holds: each executed runbook's recorded results and timings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
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
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


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
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not a readable notebook: {exc}") from None
        papermill = metadata.get("papermill", {})
        exception = papermill.get("exception")
        found[name] = ExecutedRunbook(
            name=name,
            notebook=path,
            started=_time(papermill.get("start_time")),
            ended=_time(papermill.get("end_time")),
            duration_s=papermill.get("duration"),
            error="a step failed; its error banner is in the notebook" if exception else None,
            recorded=recorded,
        )
    if not found:
        raise ConfigError(
            f"no executed runbook in {folder}; run them first, e.g. "
            f"lumiku-ops runbook run 01 --out {folder}"
        )
    return IncidentFolder(folder=folder, runbooks=found)
