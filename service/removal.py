"""Background removal with rembg, on this machine: one session per model per process.

Tiers differ in real work, not only in price: ``basic`` runs u2netp; ``standard`` adds
mask post-processing (morphological opening and smoothing); ``professional`` and
``industry`` add alpha matting and use a larger model (u2net, isnet-general-use) when its
file is installed. A tier none of whose models is installed is refused with a 503 that
names the install command, rather than pretending.

Memory is bounded in two ways. The mask is computed, refined and matted at a working size
of at most ``WORKING_MAX_PIXELS`` and scaled back to the full size, so the output keeps
every pixel of the upload while alpha matting (pymatting's closed-form solver, about
0.45 GiB per megapixel) never sees more than a megapixel. And a process runs at most
``heavy_slots`` heavy removals (a matting tier, or a large image) at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from service.settings import heavy_slots_from_env

if TYPE_CHECKING:
    from rembg.sessions.base import BaseSession

PROVIDER = "rembg"
# Smallest width and height alpha matting is applied to; smaller images get the mask only.
MIN_MATTING_SIDE = 8
# The models predict a 320x320 mask, so matting beyond about a megapixel adds little edge
# detail while its memory grows with every pixel: 1 MP keeps one matting near 0.5 GiB.
WORKING_MAX_PIXELS = 1_000_000
# Above this, even a tier without matting holds several full-size copies of the image.
HEAVY_PIXELS = 4_000_000
# rembg's defaults for alpha matting (rembg.bg.remove).
MATTING_FOREGROUND = 240
MATTING_BACKGROUND = 10
MATTING_ERODE = 10


@dataclass(frozen=True)
class TierSpec:
    """How a tier removes: models in order of preference, and the refinements applied."""

    models: tuple[str, ...]
    post_process_mask: bool = False
    alpha_matting: bool = False


TIER_SPECS: dict[str, TierSpec] = {
    "basic": TierSpec(models=("u2netp",)),
    "standard": TierSpec(models=("u2netp",), post_process_mask=True),
    "professional": TierSpec(
        models=("u2net", "u2netp"), post_process_mask=True, alpha_matting=True
    ),
    "industry": TierSpec(
        models=("isnet-general-use", "u2net", "u2netp"), post_process_mask=True, alpha_matting=True
    ),
}


class ModelNotInstalledError(Exception):
    """No model a tier can use is installed; the message names the install command."""

    def __init__(self, tier: str, model: str) -> None:
        super().__init__(
            f"The {tier} tier needs the {model} model, which is not installed on this "
            f"server; install it with: lumiku-ops models install {model}"
        )
        self.tier = tier
        self.model = model


def model_file(name: str, home: Path) -> Path | None:
    """The installed ``<name>.onnx`` in rembg's folder ``home``, or None.

    rembg looks in ``<home>/models/<name>/`` (its current layout) and then in ``<home>``
    itself (the flat layout of earlier versions); so do we.
    """
    for candidate in (home / "models" / name / f"{name}.onnx", home / f"{name}.onnx"):
        if candidate.is_file():
            return candidate
    return None


class RemovalBusyError(Exception):
    """Every heavy-removal slot stayed taken for the whole wait; the caller should retry."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(
            "The server is busy with other large or high-quality removals; "
            "nothing was charged, retry shortly"
        )
        self.retry_after_s = max(1, math.ceil(wait_s))


def working_size(size: tuple[int, int], max_pixels: int = WORKING_MAX_PIXELS) -> tuple[int, int]:
    """``size`` scaled down, aspect ratio kept, to at most ``max_pixels`` pixels."""
    width, height = size
    if width * height <= max_pixels:
        return size
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


@dataclass(frozen=True)
class Cutout:
    """A removal's result: the RGBA picture, the model used and the inference time."""

    image: Image.Image
    model: str
    elapsed_ms: int


class RemovalEngine:
    """rembg sessions for one model folder, created once per model and then reused."""

    def __init__(self, model_home: Path, *, heavy_slots: int | None = None) -> None:
        self.model_home = model_home
        self._sessions: dict[str, BaseSession] = {}
        self._lock = threading.Lock()
        self.heavy_slots = heavy_slots if heavy_slots is not None else heavy_slots_from_env()
        self._heavy = threading.BoundedSemaphore(self.heavy_slots)

    @staticmethod
    def is_heavy(tier: str, pixels: int) -> bool:
        """Whether a removal needs a heavy slot: its tier mats, or its image is large."""
        return TIER_SPECS[tier].alpha_matting or pixels > HEAVY_PIXELS

    @contextmanager
    def heavy_slot(self, tier: str, pixels: int, *, wait_s: float | None) -> Iterator[None]:
        """Hold one of the process's heavy-removal slots while a heavy removal runs.

        Light removals pass straight through. ``wait_s=None`` waits as long as it takes
        (a batch worker); otherwise give up after ``wait_s`` seconds.

        Raises:
            RemovalBusyError: no slot was free within ``wait_s``.
        """
        if not self.is_heavy(tier, pixels):
            yield
            return
        if not self._heavy.acquire(timeout=wait_s):
            raise RemovalBusyError(wait_s or 0.0)
        try:
            yield
        finally:
            self._heavy.release()

    def model_for(self, tier: str) -> str:
        """The best installed model for ``tier``.

        Raises:
            ModelNotInstalledError: none of the tier's models is installed.
        """
        spec = TIER_SPECS[tier]
        for name in spec.models:
            if model_file(name, self.model_home) is not None:
                return name
        raise ModelNotInstalledError(tier, spec.models[-1])

    def session(self, model: str) -> BaseSession:
        """The process's session for ``model``, created on first use."""
        session = self._sessions.get(model)
        if session is not None:
            return session
        with self._lock:
            session = self._sessions.get(model)
            if session is None:
                _register_rembg_package()
                from rembg.session_factory import new_session

                # rembg reads its model folder only from the environment.
                os.environ["U2NET_HOME"] = str(self.model_home)
                session = new_session(model)
                self._sessions[model] = session
        return session

    def remove(self, image: Image.Image, tier: str) -> Cutout:
        """Cut the subject of ``image`` out with ``tier``'s model and refinements.

        The same steps as ``rembg.remove`` (predict, post-process, alpha matting, cut
        out), with rembg's own functions, but on a copy of at most ``WORKING_MAX_PIXELS``;
        the resulting alpha is scaled back and applied to the full-size image. An image
        within the working size is processed exactly as ``rembg.remove`` would.
        """
        model = self.model_for(tier)
        spec = TIER_SPECS[tier]
        session = self.session(model)
        started = time.perf_counter()
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        size = working_size(rgb.size)
        scaled = size != rgb.size
        # reducing_gap lets Pillow shrink by whole factors first: fast, and as sharp.
        small = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if scaled else rgb
        mask = session.predict(small)[0]
        if spec.post_process_mask:
            mask = Image.fromarray(_refinements().post_process(np.asarray(mask)))
        matted: Image.Image | None = None
        # Matting refines edges over a neighbourhood of pixels; below a few pixels a side
        # there is nothing to refine, and pymatting divides by zero on 1x1.
        if spec.alpha_matting and min(small.size) >= MIN_MATTING_SIDE:
            try:
                matted = _refinements().alpha_matting_cutout(
                    small, mask, MATTING_FOREGROUND, MATTING_BACKGROUND, MATTING_ERODE
                )
            except ValueError:
                # pymatting found nothing to solve. rembg then estimates the foreground's
                # colours over the whole image, which would undo the memory bound: the
                # mask is used as it is, as for the tiers without matting.
                matted = None
        if not scaled:
            # rembg's naive_cutout: the upload under the mask.
            empty = Image.new("RGBA", rgb.size, 0)
            result = matted if matted is not None else Image.composite(rgb, empty, mask)
        else:
            result = _apply_alpha(rgb, mask if matted is None else matted.getchannel("A"))
        return Cutout(
            image=result if result.mode == "RGBA" else result.convert("RGBA"),
            model=model,
            elapsed_ms=round((time.perf_counter() - started) * 1000),
        )


def _register_rembg_package() -> None:
    """Make ``rembg``'s modules importable without running its ``__init__``.

    ``import rembg`` imports ``rembg.bg``, which imports pymatting, whose numba functions
    compile for more than a minute on a fresh environment (then come from numba's cache).
    Only the tiers that post-process or mat their masks need it; registering the package
    bare lets the basic tier load its session, predict and cut out without it, so a first
    removal on a new install takes seconds. ``rembg.bg`` still imports normally later.
    """
    if "rembg" in sys.modules:
        return
    spec = importlib.util.find_spec("rembg")
    if spec is None:
        raise ModuleNotFoundError("rembg is not installed: pip install 'lumiku-ops[reference]'")
    sys.modules["rembg"] = importlib.util.module_from_spec(spec)


def _refinements() -> ModuleType:
    """rembg's mask post-processing and alpha matting (imports pymatting on first use)."""
    _register_rembg_package()
    return importlib.import_module("rembg.bg")


def _apply_alpha(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    """The full-size RGBA: ``rgb``'s colours under ``alpha`` scaled up to its size.

    Matting estimates the subject's true colours, but only at the working size; at full
    size the upload's own colours are kept. Fully transparent pixels are zeroed, as in
    rembg's cut-outs (which also keeps the PNG small). Each step works in place on one
    full-size RGBA image: ``paste`` of an image would first convert a full-size copy.
    """
    full = alpha.resize(rgb.size, Image.Resampling.LANCZOS)
    result = rgb.convert("RGBA")
    result.putalpha(full)
    result.paste((0, 0, 0, 0), (0, 0, *rgb.size), full.point(lambda value: 0 if value else 255))
    return result
