"""The runbooks' shape: thin, parameterised, output-free, and secret-free."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill
import pytest

from lumiku_ops.runbooks.run import RUNBOOKS, RUNBOOKS_DIR

NOTEBOOKS = [RUNBOOKS_DIR / f"{name}.ipynb" for name in RUNBOOKS]
FORBIDDEN = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.AsyncFor,
    ast.While, ast.Try, ast.With, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp,
)
SECRET_WORDS = ("token", "password", "secret", "database_url", "dsn")


def code_cells(path: Path) -> list[dict[str, object]]:
    cells = json.loads(path.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def source(cell: dict[str, object]) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else str(text)


def test_there_are_four_runbooks_in_order() -> None:
    assert sorted(p.name for p in RUNBOOKS_DIR.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    for cell in code_cells(path):
        assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_tagged_parameters_cell_of_literals_each_with_help(path: Path) -> None:
    cells = code_cells(path)
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]  # type: ignore[union-attr]
    assert len(tagged) == 1 and tagged[0] is cells[0]
    for node in ast.parse(source(tagged[0])).body:
        assert isinstance(node, ast.AnnAssign | ast.Assign)
        assert isinstance(node.value, ast.Constant), ast.unparse(node)
    parameters = papermill.inspect_notebook(str(path))
    assert parameters
    for name, info in parameters.items():
        assert info["help"], f"{name} has no help text"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_secrets_enter_by_variable_name_only(path: Path) -> None:
    for name in papermill.inspect_notebook(str(path)):
        if any(word in name for word in SECRET_WORDS):
            assert name.endswith("_env"), f"{name} would store a secret in the output notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_thin_imports_only_from_lumiku_ops_and_no_logic(path: Path) -> None:
    for cell in code_cells(path):
        tree = ast.parse(source(cell))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                raise AssertionError(f"plain import in {path.name}: {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                assert node.module == "lumiku_ops", ast.unparse(node)
            assert not isinstance(node, FORBIDDEN), f"{type(node).__name__} in {path.name}"
        assert len(source(cell).splitlines()) <= 25


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_says_objective_when_and_how(path: Path) -> None:
    first = json.loads(path.read_text())["cells"][0]
    text = "".join(first["source"])
    assert first["cell_type"] == "markdown"
    for phrase in ("**Objective:**", "**When to use:**", f"papermill runbooks/{path.name}"):
        assert phrase in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_expected_outputs_belong_to_this_very_runbook(path: Path) -> None:
    # nbval runs the expected copy; it proves something only if its code is the runbook's.
    expected = Path(__file__).parent / "expected" / path.name
    ours, theirs = code_cells(path), code_cells(expected)
    assert [source(c) for c in theirs] == [source(c) for c in ours]
    assert [c.get("metadata", {}) for c in theirs] == [c.get("metadata", {}) for c in ours]
    compared = [c for c in theirs if "nbval-check-output" in c["metadata"].get("tags", [])]
    assert compared and all(c["outputs"] for c in compared)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_prose_speaks_of_the_project_not_the_reference_service(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    prose = "".join(source(cell) for cell in cells if cell["cell_type"] == "markdown")
    for reference_only in ("Background Remover", "BackgroundRemoval", "background_remover", "/api/apps", "the seed's"):
        assert reference_only not in prose, reference_only
