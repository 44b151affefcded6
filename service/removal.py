"""Background removal with rembg, on this machine: one session per model per process.

Tiers differ in real work, not only in price: ``basic`` runs u2netp; ``standard`` adds
mask post-processing (morphological opening and smoothing); ``professional`` and
``industry`` add alpha matting and use a larger model (u2net, isnet-general-use) when its
file is installed. A tier none of whose models is installed is refused with a 503 that
names the install command, rather than pretending.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from rembg.sessions.base import BaseSession

PROVIDER = "rembg"
# Smallest width and height alpha matting is applied to; smaller images get the mask only.
MIN_MATTING_SIDE = 8


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


@dataclass(frozen=True)
class Cutout:
    """A removal's result: the RGBA picture, the model used and the inference time."""

    image: Image.Image
    model: str
    elapsed_ms: int


class RemovalEngine:
    """rembg sessions for one model folder, created once per model and then reused."""

    def __init__(self, model_home: Path) -> None:
        self.model_home = model_home
        self._sessions: dict[str, BaseSession] = {}
        self._lock = threading.Lock()

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
                from rembg import new_session

                # rembg reads its model folder only from the environment.
                os.environ["U2NET_HOME"] = str(self.model_home)
                session = new_session(model)
                self._sessions[model] = session
        return session

    def remove(self, image: Image.Image, tier: str) -> Cutout:
        """Cut the subject of ``image`` out with ``tier``'s model and refinements."""
        from rembg import remove

        model = self.model_for(tier)
        spec = TIER_SPECS[tier]
        session = self.session(model)
        started = time.perf_counter()
        options: dict[str, Any] = {
            "session": session,
            "post_process_mask": spec.post_process_mask,
            # Matting refines edges over a neighbourhood of pixels; below a few pixels a
            # side there is nothing to refine, and pymatting divides by zero on 1x1.
            "alpha_matting": spec.alpha_matting and min(image.size) >= MIN_MATTING_SIDE,
        }
        result = remove(image.convert("RGB"), **options)
        assert isinstance(result, Image.Image)
        return Cutout(
            image=result.convert("RGBA"),
            model=model,
            elapsed_ms=round((time.perf_counter() - started) * 1000),
        )
