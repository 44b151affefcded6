"""A basic removal never imports pymatting: its numba code compiles for a minute on a new
install, and only the tiers that post-process or mat their masks use it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.utils.project import REPO_ROOT

pytestmark = pytest.mark.removal

SCRIPT = """
import json, sys
from pathlib import Path
from PIL import Image, ImageDraw
from service.removal import RemovalEngine
from service.settings import default_model_home

image = Image.new("RGB", (96, 96), (235, 235, 235))
ImageDraw.Draw(image).ellipse((24, 24, 72, 72), fill=(200, 30, 40))
engine = RemovalEngine(default_model_home())
basic = engine.remove(image, "basic")
after_basic = "pymatting" in sys.modules
standard = engine.remove(image, "standard")
print(json.dumps({
    "after_basic": after_basic,
    "after_standard": "pymatting" in sys.modules,
    "corner_alpha": basic.image.getpixel((0, 0))[3],
    "centre_alpha": basic.image.getpixel((48, 48))[3],
    "mode": basic.image.mode,
}))
"""


@pytest.mark.slow
def test_pymatting_is_imported_by_the_refining_tiers_only() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_basic"] is False
    assert seen["after_standard"] is True
    # The basic cut-out is still a real one: transparent corner, opaque subject.
    assert seen["mode"] == "RGBA" and seen["corner_alpha"] == 0 and seen["centre_alpha"] >= 250
