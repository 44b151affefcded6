"""``lumiku-ops prisma install``: the pinned engine, Node.js as the one prerequisite, and an
install that either completes or leaves nothing that counts."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from lumiku_ops.errors import PrismaEngineError
from lumiku_ops.prisma import install
from lumiku_ops.prisma.install import MARKER, engine_home, install_engine, lock_digest
from tests.utils.cli import REPO_ROOT, as_json, lumiku

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def test_the_pins_are_exact_and_every_package_has_an_integrity_hash() -> None:
    manifest = json.loads(install.MANIFEST.read_text())
    lock = json.loads(install.LOCKFILE.read_text())
    assert lock["lockfileVersion"] == 3
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    for name, version in manifest["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    installed = {k: v for k, v in lock["packages"].items() if k}
    assert installed and all(v["integrity"].startswith("sha512-") for v in installed.values())


def test_the_driver_and_the_pins_ship_in_the_wheel() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["lumiku_ops.prisma"]
    assert sorted(shipped) == ["engine.mjs", "package-lock.json", "package.json"]
    assert all((install.PACKAGE_DIR / name).is_file() for name in shipped)


def test_each_pin_has_its_own_folder(tmp_path: Path) -> None:
    assert engine_home(tmp_path) == tmp_path / "prisma-engine" / lock_digest()[:16]


@needs_node
def test_install_reports_where_and_which_version(prisma_engine: Path) -> None:
    result = lumiku("prisma", "install", "--json")
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["source"] == "present"  # the session's install
    assert Path(data["path"]) == prisma_engine
    pins = json.loads(install.MANIFEST.read_text())["dependencies"]
    assert data["packages"] == pins
    assert pins["@prisma/schema-engine-wasm"].endswith(data["engine"])
    text = lumiku("prisma", "install")
    assert text.returncode == 0
    assert f"already installed at {prisma_engine}" in text.stdout


def test_without_node_install_is_one_error_line_saying_what_to_install(tmp_path: Path) -> None:
    result = lumiku("prisma", "install", PATH=str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: Node.js 20 or newer is needed for Prisma projects: install it "
        "(https://nodejs.org or your package manager) and run `lumiku-ops prisma install`"
    ]


def test_an_older_node_is_named_in_the_one_error_line(tmp_path: Path) -> None:
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v18.19.1\n")
    fake.chmod(0o755)
    result = lumiku("prisma", "install", PATH=str(tmp_path))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {fake} is Node.js 18.19.1; Node.js 20 or newer is needed")


@needs_node
def test_a_failed_npm_ci_leaves_nothing_that_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline with an empty npm cache: npm ci fails before installing anything.
    monkeypatch.setenv("npm_config_offline", "true")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "empty-npm-cache"))
    with pytest.raises(PrismaEngineError) as caught:
        install_engine(tmp_path / "cache")
    assert str(caught.value).startswith("could not install Prisma's schema engine: npm ci failed")
    assert "\n" not in str(caught.value)
    assert not engine_home(tmp_path / "cache").exists()
    assert list((tmp_path / "cache" / "prisma-engine").iterdir()) == []


@needs_node
def test_a_folder_without_the_marker_is_not_an_install_and_is_replaced(
    tmp_path: Path, prisma_engine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # npm ci stood in for by a copy of the session's install: one npm ci per test session.
    def copy_install(node: Path, folder: Path, *, timeout: float) -> None:
        shutil.copytree(prisma_engine / "node_modules", folder / "node_modules")

    monkeypatch.setattr(install, "_npm_ci", copy_install)
    home = engine_home(tmp_path)
    (home / "node_modules").mkdir(parents=True)
    (home / "node_modules" / "half-copied").write_text("")
    assert install_engine(tmp_path) == home
    assert (home / MARKER).read_text().strip() == lock_digest()
    assert not (home / "node_modules" / "half-copied").exists()
    assert (home / "node_modules" / "@prisma" / "schema-engine-wasm").is_dir()
    assert install_engine(tmp_path) == home  # and now a no-op
