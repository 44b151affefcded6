"""Installing Prisma's schema engine: Node.js checked, the pinned npm packages installed.

The npm packages are pinned, with integrity hashes, in ``package-lock.json`` beside this
module; :func:`install_engine` installs them with ``npm ci`` into the user's cache folder, in
a folder named after the lock's hash (a new pin installs fresh; a half install never counts).
Node.js 20 or newer is the one prerequisite.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lumiku_ops.errors import PrismaEngineError
from lumiku_ops.prisma.driver import call
from lumiku_ops.redaction import redact

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = PACKAGE_DIR / "package.json"
LOCKFILE = PACKAGE_DIR / "package-lock.json"
MIN_NODE_MAJOR = 20
# The folder under the cache folder that holds one installed engine per pin.
ENGINE_FOLDER = "prisma-engine"
# Written last into a finished install, before it is renamed into place.
MARKER = ".lumiku-installed"
INSTALL_TIMEOUT = 600.0
NODE_NEEDED = (
    "Node.js 20 or newer is needed for Prisma projects: install it (https://nodejs.org or "
    "your package manager) and run `lumiku-ops prisma install`"
)


@dataclass(frozen=True)
class EngineInstall:
    """An installed engine: where, the pinned versions, the Node that runs it, and whether
    this call installed it (``npm``) or found it (``present``)."""

    path: Path
    source: str
    engine: str
    packages: dict[str, str]
    node: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "path": str(self.path),
            "source": self.source,
            "engine": self.engine,
            "packages": dict(self.packages),
            "node": self.node,
        }


# --- Node -------------------------------------------------------------------------------


@cache
def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", done.stdout.strip())
    return tuple(int(part) for part in found.groups()) if found else None


def find_node() -> Path:
    """The ``node`` on ``PATH``, checked to be Node.js 20 or newer.

    Raises:
        PrismaEngineError: no Node.js, or an older one (the message says what to install).
    """
    found = shutil.which("node")
    if found is None:
        raise PrismaEngineError(NODE_NEEDED)
    version = _node_version(found)
    if version is None:
        raise PrismaEngineError(f"{found} does not answer `node --version`; {NODE_NEEDED}")
    if version[0] < MIN_NODE_MAJOR:
        shown = ".".join(map(str, version))
        raise PrismaEngineError(f"{found} is Node.js {shown}; {NODE_NEEDED}")
    return Path(found)


def node_version_text(node: Path) -> str:
    """``node``'s version as ``v20.20.2`` (``?`` if it does not say)."""
    version = _node_version(str(node))
    return "v" + ".".join(map(str, version)) if version else "?"


def _npm(node: Path) -> Path:
    # npm on PATH, else the npm that ships in Node's own prefix (lib/node_modules/npm).
    found = shutil.which("npm")
    if found:
        return Path(found)
    bundled = node.resolve().parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if bundled.is_file():
        return bundled
    raise PrismaEngineError(
        "npm is needed to install Prisma's schema engine and was not found; it comes with "
        "Node.js (https://nodejs.org), or install your package manager's npm package"
    )


# --- Install ----------------------------------------------------------------------------


def lock_digest() -> str:
    """The SHA-256 of the pinned ``package.json`` and ``package-lock.json``."""
    digest = hashlib.sha256()
    for path in (MANIFEST, LOCKFILE):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def engine_home(cache_dir: Path | None = None) -> Path:
    """The folder of this pin's install (it may not exist yet)."""
    if cache_dir is None:
        from lumiku_ops.settings import user_cache_dir

        cache_dir = user_cache_dir()
    return cache_dir / ENGINE_FOLDER / lock_digest()[:16]


def _installed(home: Path, digest: str) -> bool:
    try:
        return (home / MARKER).read_text().strip() == digest
    except OSError:
        return False


def install_engine(cache_dir: Path | None = None, *, timeout: float = INSTALL_TIMEOUT) -> Path:
    """Install the pinned engine unless it is there already; return its folder.

    A fast no-op when this pin is installed. Otherwise ``npm ci --ignore-scripts`` (the
    lock's exact versions and integrity hashes, no install scripts) into a temporary folder
    beside the final one, a check that the engine loads, then one rename: an interrupted
    install leaves nothing that counts as installed.

    Raises:
        PrismaEngineError: no suitable Node.js or npm, npm failed, or the engine did not load.
    """
    return _install(cache_dir, timeout=timeout)[0]


def _install(cache_dir: Path | None, *, timeout: float) -> tuple[Path, bool]:
    node = find_node()
    digest = lock_digest()
    home = engine_home(cache_dir)
    if _installed(home, digest):
        return home, False
    home.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_attempts(home.parent)
    scratch = Path(tempfile.mkdtemp(prefix=f".install-{home.name}-", dir=home.parent))
    try:
        shutil.copyfile(MANIFEST, scratch / "package.json")
        shutil.copyfile(LOCKFILE, scratch / "package-lock.json")
        _npm_ci(node, scratch, timeout=timeout)
        call(node, scratch, "version", {}, timeout=60, secrets=())  # the wasm loads
        (scratch / MARKER).write_text(digest + "\n")
        if home.exists() and not _installed(home, digest):
            # Not an install (those are renamed in whole, marker included): debris.
            shutil.rmtree(home, ignore_errors=True)
        try:
            scratch.rename(home)
        except OSError:
            # Another process finished the same install first: its copy is as good.
            if not _installed(home, digest):
                raise PrismaEngineError(
                    f"could not move the installed engine to {home}; remove that folder "
                    "and run `lumiku-ops prisma install` again"
                ) from None
            return home, False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home, True


def _remove_stale_attempts(folder: Path, older_than: float = 3600.0) -> None:
    # Leftovers of installs that were killed; a running one is younger than this.
    for attempt in folder.glob(".install-*"):
        try:
            if time.time() - attempt.stat().st_mtime > older_than:
                shutil.rmtree(attempt, ignore_errors=True)
        except OSError:
            continue


def _npm_ci(node: Path, folder: Path, *, timeout: float) -> None:
    npm = _npm(node)
    command = [str(npm)] if npm.suffix != ".js" else [str(node), str(npm)]
    command += ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
    except subprocess.TimeoutExpired:
        raise PrismaEngineError(
            f"npm ci did not finish within {timeout:g} s; is the npm registry reachable?"
        ) from None
    except OSError as exc:
        raise PrismaEngineError(f"could not run {npm}: {exc.strerror}") from None
    if done.returncode != 0:
        raise PrismaEngineError(
            "could not install Prisma's schema engine: npm ci failed: " + _npm_reason(done.stderr)
        )


def _npm_reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # npm prints "npm error code E404", then "npm error 404 Not Found - GET https://...".
    errors = [line.removeprefix("npm error").strip() for line in lines if "error" in line]
    picked = [line for line in errors if line and not line.startswith(("A complete log", "code"))]
    return redact((picked or lines or ["no message"])[0])


def installed_engine(cache_dir: Path | None = None) -> EngineInstall:
    """Install the engine if needed (see :func:`install_engine`) and describe it."""
    home, fresh = _install(cache_dir, timeout=INSTALL_TIMEOUT)
    node = find_node()
    version = call(node, home, "version", {}, timeout=60, secrets=())
    return EngineInstall(
        path=home,
        source="npm" if fresh else "present",
        engine=str(version["engine"]),
        packages={str(k): str(v) for k, v in version["packages"].items()},
        node=node_version_text(node),
    )
