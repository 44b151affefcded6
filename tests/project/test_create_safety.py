"""migrate create on the inventory sample: a MetaData that misses models is refused before
anything is written, and the default message says what changes."""

from __future__ import annotations

import pytest

from tests.project.conftest import Inventory, as_json

pytestmark = [pytest.mark.db, pytest.mark.slow]

MODULES = {
    "empty": "from sqlalchemy import MetaData\n\nmetadata = MetaData()\n",
    # Only one model imported: the other three tables look "dropped" to autogenerate.
    "partial": (
        "from sqlalchemy import MetaData\n\nfrom inventory_app.models import Base\n\n"
        "metadata = MetaData()\nBase.metadata.tables['products'].to_metadata(metadata)\n"
    ),
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_models_that_miss_tables_are_refused_and_no_file_is_left(
    inventory: Inventory, module: str
) -> None:
    (inventory.dir / "src" / "inventory_app" / f"{module}.py").write_text(MODULES[module])
    pyproject = inventory.dir / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'metadata = "inventory_app.models:Base.metadata"',
            f'metadata = "inventory_app.{module}:metadata"',
        )
    )
    before = sorted(p.name for p in inventory.versions.glob("*.py"))
    shadow = ["--shadow-url", inventory.server.base_url]
    result = inventory.lumiku("migrate", "create", *inventory.project, *shadow, "-m", "x")
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "does that module import every model?" in line
    if module == "partial":
        assert "stock_levels, stock_movements, warehouses" in line
    assert sorted(p.name for p in inventory.versions.glob("*.py")) == before


def test_the_default_message_says_what_changes(inventory: Inventory) -> None:
    inventory.add_product_column()
    shadow = ["--shadow-url", inventory.server.base_url]
    created = inventory.lumiku("migrate", "create", *inventory.project, *shadow, "--json")
    new = as_json(created)
    assert created.returncode == 0, created.stderr
    assert new["message"] == "add_reorder_point_to_products"
    assert new["path"].endswith("_add_reorder_point_to_products.py")
    assert new["only_in_revisions"] == [] and new["complete"] is True
