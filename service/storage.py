"""Files on local disk under a media root, addressed by the ``/storage/...`` URLs in the DB."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

URL_PREFIX = "/storage/"
APP_FOLDER = "background-remover"
FOLDERS = ("uploads", "outputs", "thumbnails", "zips")
_UNSAFE = re.compile(r"[^a-zA-Z0-9.-]")
_FILE_NAME = re.compile(r"[a-zA-Z0-9_-][a-zA-Z0-9._-]*")


def sanitize_name(name: str) -> str:
    """The original's rule: every character outside ``[a-zA-Z0-9.-]`` becomes ``_``."""
    return _UNSAFE.sub("_", name)[-120:] or "image"


@dataclass(frozen=True)
class MediaStore:
    """The folder behind ``/storage/background-remover/{uploads,outputs,thumbnails,zips}``."""

    root: Path

    def url(self, folder: str, name: str) -> str:
        """The URL stored in the database for ``folder/name``.

        Raises:
            ValueError: an unknown folder, or a name that is not a plain file name.
        """
        if folder not in FOLDERS or not _FILE_NAME.fullmatch(name):
            raise ValueError(f"not a media file name: {folder}/{name}")
        return f"{URL_PREFIX}{APP_FOLDER}/{folder}/{name}"

    def path_for(self, url: str) -> Path | None:
        """The file behind ``url``, or None when the URL is not one of ours."""
        if not url.startswith(URL_PREFIX):
            return None
        parts = url[len(URL_PREFIX) :].split("/")
        if len(parts) != 3 or parts[0] != APP_FOLDER or parts[1] not in FOLDERS:
            return None
        if not _FILE_NAME.fullmatch(parts[2]):
            return None
        return self.root / APP_FOLDER / parts[1] / parts[2]

    def write(self, folder: str, name: str, data: bytes | IO[bytes]) -> str:
        """Write ``data`` atomically (temp file, then rename) and return its URL.

        ``data`` is bytes, or a file copied from its start in chunks (an upload spooled
        to disk is never read whole into memory).

        Raises:
            ValueError: ``folder``/``name`` is not a media file name.
        """
        url = self.url(folder, name)
        path = self.path_for(url)
        if path is None:  # unreachable after url()'s check; never write outside the root
            raise ValueError(f"not a media file name: {folder}/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # A reader, or a worker restarted after a kill, never sees a half-written file.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                if isinstance(data, bytes):
                    handle.write(data)
                else:
                    data.seek(0)
                    shutil.copyfileobj(data, handle)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return url

    def delete(self, *urls: str) -> None:
        """Remove the files behind ``urls``; those already gone are ignored."""
        for url in urls:
            path = self.path_for(url)
            if path is not None:
                path.unlink(missing_ok=True)

    def read(self, url: str) -> bytes:
        """The bytes behind ``url``; FileNotFoundError if it is gone."""
        path = self.path_for(url)
        if path is None:
            raise FileNotFoundError(url)
        return path.read_bytes()
