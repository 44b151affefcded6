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

Then (e) the peak memory of ONE removal per tier at 4 MP and at the 40 MP upload limit:
each measurement runs in a fresh child process that warms up (model session, compiled
matting code) on a small image of the same tier, then decodes, removes, encodes and
thumbnails one large JPEG exactly as the service does. The child's peak resident set
(``ru_maxrss``) before and after that removal gives the process peak and what the removal
added. A child runs under an address-space cap (``--memory-cap-gib``) so that a removal
that would take the machine's memory fails alone instead. The last line gives the
headline: (c)/(a), and the professional tier's peak at the largest size measured
(target: under 1.5 GiB at 40 MP).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
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


TIERS = ("basic", "standard", "professional", "industry")
PEAK_TARGET_GIB = 1.5


def photo_jpeg(megapixels: float) -> bytes:
    """A JPEG of about ``megapixels`` (4:3): a lit background, a subject, soft detail."""
    width = round(math.sqrt(megapixels * 1_000_000 * 4 / 3))
    height = int(megapixels * 1_000_000 // width)
    picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(picture, Image.new("RGB", (width, height), (200, 210, 225)), 0.7)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((width // 4, height // 6, width * 3 // 4, height * 5 // 6), fill=(170, 60, 40))
    draw.rectangle((width // 3, height // 2, width * 2 // 3, height * 5 // 6), fill=(60, 70, 150))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def child_measure(tier: str, image_path: Path, cap_gib: float) -> int:
    """In a child process: one warm-up and one measured removal; print JSON on stdout."""
    if cap_gib > 0:
        limit = int(cap_gib * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from service.images import decode_image, encode_png, make_thumbnail
    from service.removal import RemovalEngine

    engine = RemovalEngine(Path(os.environ["U2NET_HOME"]))

    def one(data: bytes) -> None:
        upload = decode_image(data)
        cutout = engine.remove(upload.image, tier)
        make_thumbnail(cutout.image)
        encode_png(cutout.image)

    one(make_images(1, 256)[0])
    data = image_path.read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        one(data)
    except MemoryError:
        print(json.dumps({"error": f"over the {cap_gib:g} GiB cap"}))
        return 0
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"baseline_kib": before, "peak_kib": after, "seconds": seconds}))
    return 0


def measure_memory(
    tiers: list[str], sizes: list[float], cap_gib: float, scratch: Path
) -> list[dict[str, object]]:
    """One child process per (tier, size); the table's rows."""
    rows: list[dict[str, object]] = []
    for megapixels in sizes:
        path = scratch / f"photo-{megapixels:g}mp.jpg"
        path.write_bytes(photo_jpeg(megapixels))
        with Image.open(path) as probe:
            width, height = probe.size
        for tier in tiers:
            done = subprocess.run(
                [sys.executable, __file__, "--child", tier, str(path), str(cap_gib)],
                capture_output=True,
                text=True,
                timeout=900,
            )
            row: dict[str, object] = {
                "tier": tier,
                "pixels": f"{width}x{height}",
                "megapixels": width * height / 1e6,
                "upload_mib": path.stat().st_size / 2**20,
            }
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                row["error"] = f"exit {done.returncode}: {tail[:60]}"
            else:
                row.update(json.loads(lines[-1]))
            rows.append(row)
    return rows


def print_memory(rows: list[dict[str, object]]) -> None:
    print()
    print("(e) one removal per tier, each in a fresh process after a warm-up of that tier")
    print(
        f"{'tier':<13}{'image':>12}{'MP':>6}{'upload':>9}{'peak RSS':>11}{'added':>10}{'time':>8}"
    )
    for row in rows:
        lead = (
            f"{row['tier']:<13}{row['pixels']:>12}{row['megapixels']:>6.1f}"
            f"{row['upload_mib']:>7.1f}Mi"
        )
        if "error" in row:
            print(f"{lead}  {row['error']}")
            continue
        peak = int(str(row["peak_kib"])) / 2**20
        added = (int(str(row["peak_kib"])) - int(str(row["baseline_kib"]))) / 2**20
        print(f"{lead}{peak:>8.2f}GiB{added:>7.2f}GiB{float(str(row['seconds'])):>7.1f}s")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        return child_measure(sys.argv[2], Path(sys.argv[3]), float(sys.argv[4]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=40, help="images for (a)-(c)")
    parser.add_argument("--naive-images", type=int, default=10, help="images for (d)")
    parser.add_argument("--size", type=int, default=320, help="side of the (a)-(d) images")
    parser.add_argument(
        "--megapixels",
        type=float,
        nargs="*",
        default=[4.0, 40.0],
        help="image sizes for (e), in megapixels (default: 4 40; none skips (e))",
    )
    parser.add_argument(
        "--tiers", nargs="+", choices=TIERS, default=list(TIERS), help="tiers for (e)"
    )
    parser.add_argument(
        "--memory-cap-gib",
        type=float,
        default=8.0,
        help="address-space cap of each (e) child, 0 for none (default: 8)",
    )
    parser.add_argument("--memory-only", action="store_true", help="skip (a)-(d), measure only (e)")
    args = parser.parse_args()
    model_home = Path(os.environ.get("U2NET_HOME") or default_model_home())
    if model_file("u2netp", model_home) is None:
        raise SystemExit("u2netp is not installed: run 'lumiku-ops models install'")
    os.environ["U2NET_HOME"] = str(model_home)
    scratch = Path(tempfile.mkdtemp(prefix="lumiku-bench-"))
    memory_rows = measure_memory(args.tiers, args.megapixels, args.memory_cap_gib, scratch)
    if args.memory_only:
        print_memory(memory_rows)
        print(headline(None, memory_rows))
        return 0
    images = make_images(args.images, args.size)

    # (a) is measured next to each of (b) and (c): on a shared machine, load drifts.
    a_runs = [bench_rembg(images, reuse=True)]
    d = bench_rembg(images[: args.naive_images], reuse=False)

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
    print_memory(memory_rows)
    print(headline(c / a, memory_rows))
    return 0


def headline(ratio: float | None, rows: list[dict[str, object]]) -> str:
    """The one closing line: batch through the worker over rembg alone, and the matting peak."""
    parts = [] if ratio is None else [f"c/a = {ratio:.2f} (target >= 0.90)"]
    measured = [row for row in rows if row["tier"] == "professional"]
    if measured:
        largest = max(measured, key=lambda row: float(str(row["megapixels"])))
        size = f"{float(str(largest['megapixels'])):.0f} MP"
        if "peak_kib" in largest:
            peak = f"{int(str(largest['peak_kib'])) / 2**20:.2f} GiB"
        else:
            peak = str(largest["error"])
        parts.append(
            f"professional peak at {size} = {peak} (target < {PEAK_TARGET_GIB} GiB at 40 MP)"
        )
    return "headline: " + "; ".join(parts or ["nothing measured"])


if __name__ == "__main__":
    sys.exit(main())
