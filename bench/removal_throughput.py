"""Removal throughput: rembg alone, the HTTP endpoint, the batch worker, and naive rembg.

Run from the repository root (the u2netp model must be installed:
``lumiku-ops models install``)::

    .venv/bin/python bench/removal_throughput.py [--images 40] [--size 320]

All four measurements use the same generated images and the same model (u2netp, the
``basic`` tier), in one run, on a throwaway embedded PostgreSQL:

(a) rembg ``remove()`` with one reused session, in a plain loop;
(b) sequential ``POST /remove`` over HTTP to ``lumiku-ops serve``;
(c) one batch through a ``lumiku-ops worker`` (POST /batch until the batch is final,
    ZIP included);
(d) rembg's naive use: a new session per image.

It prints images per second, the ratios to (a) (targets: c >= 0.9, b >= 0.85), and the
worker's peak resident memory.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lumiku_ops.db.embedded import start_embedded  # noqa: E402
from lumiku_ops.migrate.runner import upgrade_database  # noqa: E402
from lumiku_ops.project import load_project  # noqa: E402
from lumiku_ops.reference.accounts import ensure_account, issue_token  # noqa: E402
from service.removal import model_file  # noqa: E402
from service.settings import default_model_home  # noqa: E402


def make_images(count: int, size: int) -> list[bytes]:
    images = []
    for index in range(count):
        hue = (index * 47) % 200
        picture = Image.new("RGB", (size, size), (230, 230 - hue // 4, 225))
        margin = size // 4 + index % 7
        ImageDraw.Draw(picture).ellipse(
            (margin, margin, size - margin, size - margin), fill=(40 + hue, 30, 200 - hue)
        )
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def bench_rembg(images: list[bytes], *, reuse: bool) -> float:
    from rembg import new_session, remove

    session = new_session("u2netp") if reuse else None
    remove(images[0], session=session or new_session("u2netp"))  # warm-up: imports, first run
    started = time.perf_counter()
    for data in images:
        remove(data, session=session if reuse else new_session("u2netp"))
    return rate(len(images), time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"service exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("service did not start")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--naive-images", type=int, default=10)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=1, help="worker concurrency")
    args = parser.parse_args()
    model_home = Path(os.environ.get("U2NET_HOME") or default_model_home())
    if model_file("u2netp", model_home) is None:
        raise SystemExit("u2netp is not installed: run 'lumiku-ops models install'")
    os.environ["U2NET_HOME"] = str(model_home)
    images = make_images(args.images, args.size)

    # (a) is measured next to each of (b) and (c): on a shared machine, load drifts.
    a_runs = [bench_rembg(images, reuse=True)]
    d = bench_rembg(images[: args.naive_images], reuse=False)

    scratch = Path(tempfile.mkdtemp(prefix="lumiku-bench-"))
    server = start_embedded(scratch / "pgdata", cleanup="delete", database="bench")
    url = server.url("bench")
    upgrade_database(url, load_project(ROOT), "head")
    account = ensure_account(url, email="bench@lumiku.local", credits=1_000_000)
    secret = secrets.token_urlsafe(48)
    token = issue_token(account, secret)
    env = {
        **os.environ,
        "LUMIKU_JWT_SECRET": secret,
        "LUMIKU_MEDIA_ROOT": str(scratch / "media"),
        "U2NET_HOME": str(model_home),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    python = [sys.executable, "-m", "lumiku_ops"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    serve = subprocess.Popen(
        [
            *python,
            "serve",
            "--database-url",
            url,
            "--port",
            str(port),
            "--no-worker",
            "--log-file",
            str(scratch / "serve.log"),
        ],
        **quiet,  # type: ignore[call-overload]
    )
    worker = subprocess.Popen(
        [*python, "worker", "--database-url", url, "--concurrency", "2"],
        **quiet,  # type: ignore[call-overload]
    )
    try:
        wait_http(base + "/health", serve)
        headers = {"Authorization": f"Bearer {token}"}

        def post_remove(data: bytes) -> None:
            response = requests.post(
                base + "/api/background-remover/remove",
                headers=headers,
                files={"image": ("bench.png", data, "image/png")},
                data={"tier": "basic"},
                timeout=120,
            )
            response.raise_for_status()

        def run_batch(batch: list[bytes]) -> None:
            files = [
                (f"images[{i}]", (f"{i}.png", data, "image/png")) for i, data in enumerate(batch)
            ]
            response = requests.post(
                base + "/api/background-remover/batch",
                headers=headers,
                files=files,
                data={"tier": "basic"},
                timeout=120,
            )
            response.raise_for_status()
            batch_id = response.json()["batch"]["id"]
            while True:
                state = requests.get(
                    f"{base}/api/background-remover/batch/{batch_id}", headers=headers, timeout=10
                ).json()["batch"]
                if state["status"] in ("completed", "partial", "failed"):
                    assert state["status"] == "completed", state["status"]
                    return
                time.sleep(0.25)

        post_remove(images[0])  # warm-up: the service's session is created once
        a_runs.append(bench_rembg(images, reuse=True))
        started = time.perf_counter()
        for data in images:
            post_remove(data)
        b = rate(len(images), time.perf_counter() - started)

        run_batch(images[:2])  # warm-up: the worker's session
        a_runs.append(bench_rembg(images, reuse=True))
        started = time.perf_counter()
        run_batch(images)
        c = rate(len(images), time.perf_counter() - started)
        worker_peak = peak_rss_mib(worker.pid)
    finally:
        for process in (worker, serve):
            process.terminate()
            process.wait(timeout=60)

    a = sum(a_runs) / len(a_runs)
    print(f"images: {len(images)} x {args.size}x{args.size} PNG, model u2netp (basic tier)")
    runs = ", ".join(f"{value:.2f}" for value in a_runs)
    print(f"(a) rembg remove(), reused session : {a:6.2f} img/s   (runs: {runs})")
    print(
        f"(b) sequential POST /remove (HTTP) : {b:6.2f} img/s   b/a = {b / a:.2f} (target >= 0.85)"
    )
    print(
        f"(c) one batch through the worker   : {c:6.2f} img/s   c/a = {c / a:.2f} (target >= 0.90)"
    )
    print(f"(d) rembg naive, new session/image : {d:6.2f} img/s   d/a = {d / a:.2f}")
    print(f"worker peak RSS: {worker_peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
