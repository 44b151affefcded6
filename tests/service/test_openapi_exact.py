"""The request schemas say exactly what the service accepts: no valid request is refused.

Each case is a request a client could send. Its body (or query) is validated against the
schema ``/openapi.json`` serves, and the same request goes to the service: the document's
verdict and the service's must agree (valid and 200, or invalid and 400). These are the
request shapes a schema-driven fuzzer found refused although the document allowed them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from tests.conftest import JWT_SECRET
from tests.utils.factories import add, job, user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http]

PREFIX = "/api/background-remover"


class Agreement:
    """The served document, and the assertion that it and the service agree on a request."""

    def __init__(self, service: RunningService, user_id: str, token: str) -> None:
        self.service = service
        self.user_id = user_id
        self.token = token
        self.doc = service.get("/openapi.json").json()

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        # The components travel along so that "#/components/schemas/..." resolves.
        return Draft202012Validator({**schema, "components": self.doc["components"]})

    def body_schema(self, path: str, method: str, media_type: str) -> dict[str, Any]:
        content = self.doc["paths"][path][method]["requestBody"]["content"]
        return dict(content[media_type]["schema"])

    def json(self, method: str, path: str, body: Any, *, valid: bool) -> requests.Response:
        schema = self.body_schema(f"{PREFIX}{path}", method, "application/json")
        assert self.validator(schema).is_valid(body) is valid, (path, body)
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.service.base_url}{PREFIX}{path}"
        response = requests.request(method, url, json=body, headers=headers, timeout=30)
        assert (response.status_code == 200) is valid, (path, body, response.text)
        if not valid:
            assert response.status_code == 400, response.text
        return response


@pytest.fixture
def agreement(fresh_db: str, start_remover: Callable[..., RunningService]) -> Agreement:
    service = start_remover(fresh_db, worker=False)
    account, token = user_with_token(
        fresh_db, JWT_SECRET, email="exact@lumiku.local", credits=10**6
    )
    return Agreement(service, account.user_id, token)


def test_json_strings_and_keys_are_documented_nul_free(agreement: Agreement) -> None:
    pricing = {"totalImages": 2, "tier": "basic"}
    agreement.json("post", "/pricing/calculate", {**pricing, "note": ["ok", {"k": 1}]}, valid=True)
    # The service reads every string of the body, even under a key it ignores.
    agreement.json("post", "/pricing/calculate", {**pricing, "note": {"x": "a\x00"}}, valid=False)
    agreement.json("post", "/pricing/calculate", {**pricing, "n\x00te": 1}, valid=False)
    agreement.json("delete", "/subscription", {"reason": "too\x00dear"}, valid=False)
    agreement.json("post", "/subscription", {"plan": "pro", "paymentId": "p\x00"}, valid=False)
    agreement.json("post", "/subscription", {"plan": "starter", "paymentId": "p-1"}, valid=True)


def test_a_whole_number_written_with_a_fraction_is_an_integer(agreement: Agreement) -> None:
    # JSON Schema's "integer" accepts 30.0; so does the service now.
    priced = agreement.json(
        "post", "/pricing/calculate", {"totalImages": 30.0, "tier": "standard"}, valid=True
    )
    assert priced.json()["pricing"]["totalImages"] == 30
    agreement.json("post", "/pricing/calculate", {"totalImages": 2.5, "tier": "basic"}, valid=False)


def test_a_string_with_half_a_surrogate_pair_is_a_400_not_a_500(agreement: Agreement) -> None:
    url = f"{agreement.service.base_url}{PREFIX}/subscription"
    headers = {"Authorization": f"Bearer {agreement.token}", "Content-Type": "application/json"}
    for raw in (b'{"plan": "starter", "paymentId": "\\ud800x"}', b'{"plan": "pro", "\\udfff": 1}'):
        response = requests.post(url, data=raw, headers=headers, timeout=30)
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": "Invalid JSON body: a string escapes half of a surrogate pair"
        }


def test_the_cursor_pattern_is_the_whole_rule(agreement: Agreement, fresh_db: str) -> None:
    service, token = agreement.service, agreement.token
    (parameter,) = [
        p
        for p in agreement.doc["paths"][f"{PREFIX}/jobs"]["get"]["parameters"]
        if p["name"] == "cursor"
    ]
    schema = agreement.validator(parameter["schema"])
    add(fresh_db, *[job(agreement.user_id, age_minutes=minutes) for minutes in range(3)])
    first = service.get(f"{PREFIX}/jobs?limit=2", token).json()
    real = first["nextCursor"]
    # Anything the pattern allows names a position, whether or not a job is there.
    for cursor in (real, "0.a", "9999999999999999.Z_-9", "1733400000000000." + "x" * 64):
        assert schema.is_valid(cursor), cursor
        response = service.get(f"{PREFIX}/jobs?cursor={cursor}", token)
        assert response.status_code == 200, (cursor, response.text)
    assert len(service.get(f"{PREFIX}/jobs?cursor={real}", token).json()["jobs"]) == 1
    # Anything else is refused, by the document and by the service alike.
    for cursor in ("", "1.", ".a", "1.a.b", "x.a", "1.a b", "1" * 17 + ".a", "1." + "x" * 65):
        assert not schema.is_valid(cursor), cursor
        response = requests.get(
            f"{service.base_url}{PREFIX}/jobs",
            params={"cursor": cursor},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 400, (cursor, response.text)


def test_uploads_document_their_images_and_both_batch_spellings(agreement: Agreement) -> None:
    service, token = agreement.service, agreement.token
    remove = agreement.doc["paths"][f"{PREFIX}/remove"]["post"]["requestBody"]["content"]
    batch = agreement.doc["paths"][f"{PREFIX}/batch"]["post"]["requestBody"]["content"]
    images = "image/png, image/jpeg, image/webp"
    assert remove["multipart/form-data"]["encoding"] == {"image": {"contentType": images}}
    assert batch["multipart/form-data"]["encoding"] == {
        "images": {"contentType": images},
        "images[0]": {"contentType": images},
    }
    form = agreement.validator(batch["multipart/form-data"]["schema"])
    png = subject_png(64)
    cases: list[tuple[dict[str, Any], list[tuple[str, Any]], bool]] = [
        ({"images": ["png"]}, [("images", ("a.png", png, "image/png"))], True),
        ({"images": ["png", "png"]}, [("images", ("a.png", png, "image/png"))] * 2, True),
        ({"images[0]": "png"}, [("images[0]", ("a.png", png, "image/png"))], True),
        ({"images": []}, [], False),
        ({}, [], False),
    ]
    for shape, files, valid in cases:
        assert form.is_valid({"tier": "basic", **shape}) is valid, shape
        started = service.post(
            f"{PREFIX}/batch", token, data={"tier": "basic"}, files=files or None
        )
        assert (started.status_code == 200) is valid, (shape, started.text)
    limit = batch["multipart/form-data"]["schema"]["properties"]["images"]
    assert (limit["minItems"], limit["maxItems"]) == (1, 500)


def test_a_key_reused_for_another_request_is_a_documented_422(agreement: Agreement) -> None:
    service, token = agreement.service, agreement.token
    operation = agreement.doc["paths"][f"{PREFIX}/remove"]["post"]
    (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert "422" in key["description"] and "409" in key["description"]
    assert set(operation["responses"]) >= {"409", "422"}
    image = {"image": ("photo.png", subject_png(64), "image/png")}
    headers = {"Idempotency-Key": "exact-1"}
    first = service.post(
        f"{PREFIX}/remove", token, files=image, data={"tier": "basic"}, headers=headers
    )
    assert first.status_code == 200, first.text
    other = service.post(
        f"{PREFIX}/remove", token, files=image, data={"tier": "standard"}, headers=dict(headers)
    )
    assert other.status_code == 422, other.text
    schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
    assert agreement.validator(schema).is_valid(other.json())
    assert re.search("different request", operation["responses"]["422"]["description"])
