"""Uploads decoded with Pillow before anything is charged; outputs and thumbnails."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import ApiError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# 40 megapixels: far above any photo the tiers are meant for, far below what would
# exhaust memory once decoded (a decompression bomb declares billions of pixels).
MAX_PIXELS = 40_000_000
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
THUMBNAIL_BOX = (300, 300)

INVALID_FORMAT = "Invalid image format. Only PNG, JPEG, and WEBP are supported"
TOO_LARGE = "Image size exceeds 10MB limit"


@dataclass(frozen=True)
class DecodedImage:
    """A validated upload: its size in bytes, format, extension and the decoded picture."""

    size: int
    format: str
    extension: str
    image: Image.Image


def _file(source: bytes | IO[bytes]) -> IO[bytes]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    source.seek(0)
    return source


def byte_size(source: bytes | IO[bytes]) -> int:
    """The size of an upload held in memory or in a (spooled) file."""
    if isinstance(source, bytes):
        return len(source)
    return source.seek(0, os.SEEK_END)


def image_pixels(source: bytes | IO[bytes]) -> int:
    """Width x height from the header alone, or 0 when there is no readable header.

    Cheap enough to decide, before decoding, how heavy a removal will be.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(_file(source)) as opened:
                width, height = opened.size
    except Exception:  # noqa: BLE001 - decode_image gives the real 400 for a bad upload
        return 0
    return int(width * height)


def decode_image(source: bytes | IO[bytes]) -> DecodedImage:
    """Validate and decode an upload (PNG, JPEG or WEBP, at most 10 MiB and 40 MP).

    ``source`` is the upload's bytes, or a seekable file holding them (read from the
    start), so that uploads spooled to disk are never held whole in memory.

    Raises:
        ApiError: 400 with a reason for anything that is not a complete, allowed image.
    """
    size = byte_size(source)
    if size > MAX_UPLOAD_BYTES:
        raise ApiError(400, TOO_LARGE)
    if not size:
        raise ApiError(400, "Image file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(_file(source))
            if opened.format not in FORMATS:
                raise ApiError(400, INVALID_FORMAT)
            width, height = opened.size
            # Checked from the header, before a single pixel is decoded.
            if width * height > MAX_PIXELS:
                raise ApiError(
                    400, f"Image is {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels"
                )
            opened.load()
            # In place: a 40 MP upload is 120 MB decoded, and a copy would double it.
            ImageOps.exif_transpose(opened, in_place=True)
            image = opened
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(400, f"Image exceeds the limit of {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ApiError(400, INVALID_FORMAT) from None
    except (OSError, SyntaxError, ValueError):
        raise ApiError(400, "Image file is corrupt or truncated") from None
    format_ = str(opened.format)
    return DecodedImage(size=size, format=format_, extension=FORMATS[format_], image=image)


def encode_png(image: Image.Image) -> bytes:
    """``image`` as an RGBA PNG."""
    buffer = io.BytesIO()
    # convert() copies even when the mode already matches: avoid a full-size copy.
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    rgba.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def make_thumbnail(image: Image.Image) -> bytes:
    """A WebP that fits inside 300x300, aspect ratio kept, transparency kept."""
    thumb = image
    if image.width > THUMBNAIL_BOX[0] or image.height > THUMBNAIL_BOX[1]:
        # contain() resizes into a new small image; thumbnail() would need a full-size copy.
        thumb = ImageOps.contain(image, THUMBNAIL_BOX, Image.Resampling.LANCZOS)
    thumb = thumb if thumb.mode == "RGBA" else thumb.convert("RGBA")
    buffer = io.BytesIO()
    thumb.save(buffer, "WEBP", quality=80)
    return buffer.getvalue()
