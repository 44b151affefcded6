"""The runbooks with the outputs nbval compares: expected results, kept out of the package.

The shipped runbooks are committed without outputs. nbval compares outputs against the
notebook it runs, so these copies carry, for the cells tagged ``nbval-check-output`` only,
the outputs of a run in the reference incident. Their code is the runbooks' code, cell for
cell (a hygiene test keeps it so); regenerate them with ``LUMIKU_NBVAL_REGENERATE=1``.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path
from typing import Any

from lumiku_ops.runbooks.catalogue import RUNBOOKS_DIR

EXPECTED_DIR = Path(__file__).resolve().parents[1] / "runbooks" / "expected"
SANITIZERS = Path(__file__).resolve().parents[1] / "nbval_sanitize.cfg"
CHECK_TAG = "nbval-check-output"


def expected_path(name: str) -> Path:
    return EXPECTED_DIR / f"{name}.ipynb"


def tagged(cell: dict[str, Any]) -> bool:
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def write_expected(name: str, executed: Path) -> Path:
    """The runbook with the executed outputs of its tagged cells (matched by cell id)."""
    notebook = json.loads((RUNBOOKS_DIR / f"{name}.ipynb").read_text())
    ran = {
        cell.get("id"): cell
        for cell in json.loads(executed.read_text())["cells"]
        if cell["cell_type"] == "code"
    }
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and tagged(cell):
            # nbval treats a cell with outputs but no execution count as never run.
            cell["execution_count"] = ran[cell.get("id")]["execution_count"]
            cell["outputs"] = [_sanitized(o) for o in ran[cell.get("id")].get("outputs", [])]
    path = expected_path(name)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return path


def _patterns() -> list[tuple[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZERS)
    return [(parser[s]["regex"], parser[s]["replace"]) for s in parser.sections()]


def _sanitized(output: dict[str, Any]) -> dict[str, Any]:
    # Stored as nbval will compare them: no machine path, URL, port or time in the file.
    def clean(value: Any) -> Any:
        text = "".join(value) if isinstance(value, list) else value
        if not isinstance(text, str):
            return value
        for regex, replace in _patterns():
            text = re.sub(regex, replace, text)
        return text

    cleaned = dict(output)
    if "data" in cleaned:
        cleaned["data"] = {key: clean(value) for key, value in cleaned["data"].items()}
    if "text" in cleaned:
        cleaned["text"] = clean(cleaned["text"])
    return cleaned
