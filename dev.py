"""Set up the project's virtual environment, then run the main job or the tests.

Usage (from the repository root, with nothing but Python 3.11+ installed):

    python3 dev.py demo     # the main job, on an embedded PostgreSQL
    python3 dev.py test     # lint, type-check and the whole test suite

Any further arguments are passed on (``python3 dev.py test -k migrations``).
The environment lives in ``.venv/`` and is rebuilt from ``requirements.lock``
whenever the lock file or ``pyproject.toml`` changes. ``test`` also installs
``requirements-corpus.lock`` (the real projects the tests run on), once, and, where Node.js
is installed, Prisma's pinned schema engine (``lumiku-ops prisma install``, into the tests'
cache folder); ``setup`` and ``demo`` never pay for either.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".lumiku-lock-sha256"
CORPUS_STAMP = VENV / ".lumiku-corpus-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.lock", "requirements-installer.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _corpus_digest() -> str:
    # The main environment's digest too: a rebuilt .venv has to get the corpus again.
    digest = hashlib.sha256(_lock_digest().encode())
    digest.update((ROOT / "requirements-corpus.lock").read_bytes())
    return digest.hexdigest()


def _run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"dev.py: step failed ({result.returncode}): {' '.join(map(str, args))}")


def ensure_venv() -> None:
    """Create .venv and install the locked dependencies unless already current."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on the bare system Python
        sys.exit("dev.py: Python 3.11 or newer is required")
    digest = _lock_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest and PYTHON.exists():
        return
    print("dev.py: preparing .venv from requirements.lock (first run takes a minute)", flush=True)
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [PYTHON, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # Hash-checked installs: what the lock files name is exactly what runs. uv installs the
    # lock several times faster than pip; where it cannot be had, pip does the same job.
    if _quiet(*pip, "install", "--require-hashes", "-r", "requirements-installer.lock"):
        uv = [BIN / "uv", "pip", "install", "--quiet", "--python", PYTHON]
        # Bytecode now, not on the first import of every module during the first demo.
        _run(*uv, "--require-hashes", "--no-deps", "--compile-bytecode", "-r", "requirements.lock")
        _run(*uv, "--no-deps", "-e", ".")
    else:
        _run(*pip, "install", "--require-hashes", "--no-deps", "-r", "requirements.lock")
        _run(*pip, "install", "--no-deps", "-e", ".")
    STAMP.write_text(digest + "\n")


def ensure_corpus() -> None:
    """Install the test corpus's lock on top of .venv unless already current."""
    digest = _corpus_digest()
    if CORPUS_STAMP.exists() and CORPUS_STAMP.read_text().strip() == digest:
        return
    print("dev.py: installing the test corpus from requirements-corpus.lock", flush=True)
    lock = ("--require-hashes", "--no-deps", "-r", "requirements-corpus.lock")
    if (BIN / "uv").exists():
        _run(BIN / "uv", "pip", "install", "--quiet", "--python", PYTHON, *lock)
    else:
        _run(PYTHON, "-m", "pip", "--disable-pip-version-check", "--quiet", "install", *lock)
    CORPUS_STAMP.write_text(digest + "\n")


def _quiet(*args: str | Path) -> bool:
    """Run a step whose failure has a fallback; True when it succeeded."""
    result = subprocess.run(
        [str(a) for a in args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return result.returncode == 0


def ensure_model() -> None:
    """Install rembg's u2netp model (into $U2NET_HOME, default ~/.u2net) unless present."""
    _run(PYTHON, "-m", "lumiku_ops", "models", "install")


def ensure_prisma_engine() -> None:
    """Install Prisma's pinned schema engine for the tests, where Node.js is installed.

    Into the folder the tests use (``tests/conftest.py``: ``.lumiku/cache`` unless
    ``LUMIKU_CACHE_DIR`` says otherwise); a fraction of a second when already there. Without
    Node.js the Prisma tests that need the engine skip.
    """
    if shutil.which("node") is None:
        print("dev.py: Node.js not found; the Prisma engine tests will skip", flush=True)
        return
    env = {**os.environ}
    env.setdefault("LUMIKU_CACHE_DIR", str(ROOT / ".lumiku" / "cache"))
    result = subprocess.run(
        [str(PYTHON), "-m", "lumiku_ops", "prisma", "install"], cwd=ROOT, env=env
    )
    if result.returncode != 0:
        sys.exit(f"dev.py: step failed ({result.returncode}): lumiku-ops prisma install")


def run_tests(extra: list[str]) -> int:
    """Lint, type-check, then run pytest; stop at the first failing stage."""
    for stage in (
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy"],
    ):
        print(
            f"dev.py: {' '.join(str(s.name if isinstance(s, Path) else s) for s in stage)}",
            flush=True,
        )
        if subprocess.run([str(s) for s in stage], cwd=ROOT).returncode != 0:
            return 1
    return subprocess.run([str(PYTHON), "-m", "pytest", *extra], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 1
    ensure_venv()
    ensure_model()
    command, extra = argv[0], argv[1:]
    if command == "setup":
        return 0
    if command == "test":
        ensure_corpus()
        ensure_prisma_engine()
        return run_tests(extra)
    program = str(BIN / "lumiku-ops")
    if os.name != "nt":
        # Replace this process so Ctrl-C reaches the demo alone and it can clean up.
        os.chdir(ROOT)
        os.execv(program, [program, "demo", *extra])
    return subprocess.run([program, "demo", *extra], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
