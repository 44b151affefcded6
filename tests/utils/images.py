"""Synthetic images for removal tests: a coloured shape on a plain background, and bad ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

SIZE = 320


def subject_png(size: int = SIZE, *, color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    """A red disc on a light grey background, as PNG."""
    image = Image.new("RGB", (size, size), (235, 235, 235))
    margin = size * 9 // 32
    ImageDraw.Draw(image).ellipse((margin, margin, size - margin, size - margin), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def subject_jpeg(size: int = SIZE) -> bytes:
    """The same picture as JPEG."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(subject_png(size))).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def decompression_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header declares billions of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    """A PNG cut off half way through its pixel data."""
    data = subject_png()
    return data[: len(data) // 2]


def oversized_upload() -> bytes:
    """More than 10 MiB, starting like a PNG."""
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)


def alpha_at(png: bytes, xy: tuple[int, int]) -> int:
    """The alpha of one pixel of an RGBA PNG."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return int(image.getpixel(xy)[3])  # type: ignore[index]


def photo_jpeg(width: int, height: int) -> bytes:
    """A large JPEG: a red disc (the subject) on a light grey background."""
    image = Image.new("RGB", (width, height), (235, 235, 235))
    box = (width // 4, height // 4, width * 3 // 4, height * 3 // 4)
    ImageDraw.Draw(image).ellipse(box, fill=(200, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
