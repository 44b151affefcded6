"""Regenerate ``requirements-corpus.lock`` from ``requirements-corpus.in``.

The corpus lock holds only what the corpus adds to ``requirements.lock``: it is resolved
against the main lock as constraints (whose pins it never changes), then every package the
main lock already pins is left out, so ``dev.py test`` installs it ``--no-deps`` on top.

Usage (from the repository root): ``.venv/bin/python tests/corpus/compile_lock.py``
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = """\
# The corpus of real projects (tests/projects/optuna, mlflow, dstack): only what they add to
# requirements.lock, hash-checked; `python3 dev.py test` installs it --no-deps, and neither
# `dev.py setup` nor the demo ever does. Regenerate with tests/corpus/compile_lock.py.
"""


def _name(line: str) -> str:
    return re.split(r"[=<>!~ ;\[]", line, maxsplit=1)[0].lower().replace("_", "-")


def main() -> int:
    main_lock = (ROOT / "requirements.lock").read_text()
    pinned = {_name(line) for line in main_lock.splitlines() if re.match(r"[A-Za-z0-9]", line)}
    compiled = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "uv"),
            "pip",
            "compile",
            "--quiet",
            "--python-version",
            "3.11",
            "--generate-hashes",
            "--no-header",
            "--no-annotate",
            "--constraint",
            "requirements.lock",
            "requirements-corpus.in",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kept: list[str] = []
    keep = False
    for line in compiled.splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            keep = _name(line) not in pinned
        if keep and line.strip():
            kept.append(line)
    (ROOT / "requirements-corpus.lock").write_text(HEADER + "\n".join(kept) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
