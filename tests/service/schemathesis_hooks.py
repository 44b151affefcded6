"""Hooks for fuzzing the reference service's OpenAPI document with schemathesis 4.32.

Not a test and not a dependency: a measuring aid. Run from the repository root against a
running service (see ``schemathesis.toml`` beside this file for the command)::

    SCHEMATHESIS_HOOKS=tests.service.schemathesis_hooks PYTHONPATH=. schemathesis \\
      --config-file tests/service/schemathesis.toml run http://127.0.0.1:8000/openapi.json \\
      --checks all --seed 1 --workers 1 -H "Authorization: Bearer $LUMIKU_TOKEN"

JSON Schema cannot say "a decodable image"; the document says which media types a file
part holds (``encoding``), and these hooks tell schemathesis how to make a small real file
of each. Three defects of schemathesis 4.32.5, met by such forms, are patched below so
that what is measured is the service.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.specs.openapi.adapter import formdata
from schemathesis.specs.openapi.coverage import _operation as coverage
from schemathesis.specs.openapi.negative import mutations


def _images(fmt: str, mode: str) -> st.SearchStrategy[bytes]:
    def encode(size: tuple[int, int], colour: tuple[int, ...]) -> bytes:
        buffer = io.BytesIO()
        Image.new(mode, size, colour).save(buffer, format=fmt)
        return buffer.getvalue()

    colour = st.tuples(*[st.integers(0, 255)] * len(mode))
    return st.builds(encode, st.tuples(st.integers(1, 48), st.integers(1, 48)), colour)


schemathesis.openapi.media_type("image/png", _images("PNG", "RGBA"))
schemathesis.openapi.media_type("image/jpeg", _images("JPEG", "RGB"))
schemathesis.openapi.media_type("image/webp", _images("WEBP", "RGB"))

_is_file_part: Callable[[object], bool] = formdata._is_file_part


def _file_or_files(schema: object) -> bool:
    # A media-type strategy draws ONE file for an array-of-files property; it is still a
    # file part (with a filename), not a plain field.
    if isinstance(schema, dict) and schema.get("type") == "array":
        return _is_file_part(schema.get("items"))
    return _is_file_part(schema)


formdata._is_file_part = _file_or_files  # type: ignore[assignment]

_custom_body = coverage._generate_multipart_body_from_custom_strategies


def _custom_body_honouring_enums(body: Any) -> tuple[dict[str, Any], dict[str, str]] | None:
    # The coverage phase fills every other required part with "", even an enum's.
    generated = _custom_body(body)
    if generated is None:
        return None
    values, content_types = generated
    for name, value in values.items():
        schema = body.form_properties.get(name) or {}
        if value == "" and schema.get("enum"):
            values[name] = schema["enum"][0]
    return values, content_types


coverage._generate_multipart_body_from_custom_strategies = _custom_body_honouring_enums

_is_negatable_keyword = mutations.is_negatable_keyword


def _negatable_unless_binary(key: str, value: Any, **options: Any) -> bool:
    # Any bytes are a binary string: a "negated" format: binary part went out as a valid
    # file and was reported as an invalid request accepted.
    if key == "format" and value == "binary":
        return False
    return _is_negatable_keyword(key, value, **options)


mutations.is_negatable_keyword = _negatable_unless_binary
