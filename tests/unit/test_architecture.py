"""The package's shape: the core never imports the reference service, and stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lumiku_ops"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_the_reference_service() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "reference" in path.relative_to(PACKAGE).parts:
            continue
        for name in _imported_modules(path):
            if name == "service" or name.startswith("service."):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []
    # The scan itself works: the reference wing does import the service.
    assert "service.app" in _imported_modules(PACKAGE / "reference" / "serve.py")


def _modules_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


def test_the_command_line_imports_no_driver_alembic_or_service_until_a_command_runs() -> None:
    loaded = _modules_after("import lumiku_ops.cli")
    heavy = {"service", "fastapi", "rembg", "PIL", "sqlalchemy", "alembic", "psycopg", "papermill"}
    assert heavy & loaded == set()
    assert "click" in loaded


def test_the_core_api_imports_without_the_reference_extra() -> None:
    loaded = _modules_after("import lumiku_ops; lumiku_ops.diagnose; lumiku_ops.create_migration")
    assert "lumiku_ops.diagnose.diagnosis" in loaded
    assert {"service", "fastapi", "rembg", "PIL", "uvicorn", "procrastinate"} & loaded == set()
