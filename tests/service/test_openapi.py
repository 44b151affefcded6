"""The served OpenAPI document is accurate: every real body validates against it.

Every endpoint is called on its success path against a running service, and each JSON
body is validated with jsonschema against the schema that ``/openapi.json`` itself
documents for that path, method and status, so the document (not just the Python models
behind it) is what is checked. The schemas are closed, so an undocumented key fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator

from service.app import create_app
from service.settings import ServiceSettings
from tests.conftest import JWT_SECRET
from tests.utils.db import downgrade, upgrade
from tests.utils.factories import user_with_token
from tests.utils.images import subject_png
from tests.utils.service import RunningService
from tests.utils.worker import wait_for

pytestmark = [pytest.mark.db, pytest.mark.http]

PREFIX = "/api/background-remover"
STORAGE = "/storage/{path}"
FILE_TYPES = {"image/png", "image/webp", "image/jpeg", "application/zip"}


class Document:
    """The served document, and a record of which responses real bodies were checked for."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.checked: set[tuple[str, str, str]] = set()

    def schema(self, path: str, method: str, status: str) -> dict[str, Any]:
        responses = self.doc["paths"][path][method]["responses"]
        entry = responses.get(status) or responses[status[0] + "XX"]
        return dict(entry["content"]["application/json"]["schema"])

    def check(self, response: requests.Response, path: str, method: str, status: int = 200) -> Any:
        """Assert the status, then validate the body against the documented schema."""
        assert response.status_code == status, (path, method, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        # The components travel along so that "#/components/schemas/..." resolves.
        schema = {**self.schema(path, method, str(status)), "components": self.doc["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert not errors, (method, path, status, errors, body)
        self.checked.add((path, method, str(status)))
        return body


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The API routes, including those of included routers (wrapped in recent FastAPI)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def app_routes() -> list[APIRoute]:
    settings = ServiceSettings(database_url="postgresql+psycopg://unused", jwt_secret=JWT_SECRET)
    return list(api_routes(create_app(settings).routes))


@pytest.fixture
def remover(
    fresh_db: str,
    service_factory: Callable[..., RunningService],
    model_home: Path,
    tmp_path: Path,
) -> RunningService:
    upgrade(fresh_db, "head")
    return service_factory(
        fresh_db, U2NET_HOME=str(model_home), LUMIKU_MEDIA_ROOT=str(tmp_path / "media")
    )


def test_every_route_documents_a_closed_success_schema(remover: RunningService) -> None:
    doc = remover.get("/openapi.json").json()
    routes = app_routes()
    assert len(routes) == 16
    for route in routes:
        path = route.path_format.replace("{path:path}", "{path}")
        for method in route.methods:
            responses = doc["paths"][path][method.lower()]["responses"]
            assert "422" not in responses or method == "POST", (path, method)
            content = responses["200"]["content"]
            if path == STORAGE:
                assert set(content) == FILE_TYPES
                assert all(
                    c["schema"] == {"type": "string", "format": "binary"} for c in content.values()
                )
            else:
                assert set(content) == {"application/json"}, (path, method)
                schema = content["application/json"]["schema"]
                assert "$ref" in schema or "anyOf" in schema, (path, method, schema)
                assert "additionalProperties" not in schema, (path, method, schema)
            for status, entry in responses.items():
                if status != "200":
                    assert "schema" in entry["content"]["application/json"], (path, status)
    for name, component in doc["components"]["schemas"].items():
        if component.get("type") == "object" and "properties" in component:
            assert component.get("additionalProperties") is False, name


def test_real_bodies_match_the_served_document(remover: RunningService, fresh_db: str) -> None:
    service = remover
    served = Document(service.get("/openapi.json").json())
    check = served.check
    # Enough for the removals, the batch and the starter plan's monthly price.
    account, token = user_with_token(fresh_db, JWT_SECRET, email="doc@lumiku.local", credits=99_200)

    check(service.get("/health"), "/health", "get")
    check(service.get("/health/ready"), "/health/ready", "get")
    check(service.get("/api/credits/balance", token), "/api/credits/balance", "get")
    check(service.get("/api/apps", token), "/api/apps", "get")
    check(service.get(f"{PREFIX}/subscription", token), f"{PREFIX}/subscription", "get")
    check(service.get(f"{PREFIX}/stats", token), f"{PREFIX}/stats", "get")

    image = {"image": ("photo.png", subject_png(128), "image/png")}
    removed = service.post(f"{PREFIX}/remove", token, files=image, data={"tier": "basic"})
    job = check(removed, f"{PREFIX}/remove", "post")["job"]
    check(service.get(f"{PREFIX}/jobs/{job['id']}", token), f"{PREFIX}/jobs/{{job_id}}", "get")
    check(service.get(f"{PREFIX}/jobs", token), f"{PREFIX}/jobs", "get")
    cut_out = service.get(job["processedUrl"], token)
    assert cut_out.status_code == 200 and cut_out.headers["content-type"] in FILE_TYPES

    files = [(f"images[{i}]", (f"shot {i}.png", subject_png(96), "image/png")) for i in range(2)]
    started = service.post(f"{PREFIX}/batch", token, files=files, data={"tier": "basic"})
    batch_id = check(started, f"{PREFIX}/batch", "post")["batch"]["id"]

    def batch() -> Any:
        response = service.get(f"{PREFIX}/batch/{batch_id}", token)
        return check(response, f"{PREFIX}/batch/{{batch_id}}", "get")["batch"]

    wait_for(lambda: batch()["zipGenerated"] is True, timeout=60)
    download = service.get(f"{PREFIX}/batch/{batch_id}/download", token)
    zip_url = check(download, f"{PREFIX}/batch/{{batch_id}}/download", "get")["zipUrl"]
    archive = service.get(zip_url, token)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"

    priced = service.post(
        f"{PREFIX}/pricing/calculate", token, json={"totalImages": 30, "tier": "standard"}
    )
    check(priced, f"{PREFIX}/pricing/calculate", "post")
    subscribed = service.post(f"{PREFIX}/subscription", token, json={"plan": "starter"})
    check(subscribed, f"{PREFIX}/subscription", "post")
    # A removal on the subscription gives today's usage record to the subscription body.
    on_plan = service.post(f"{PREFIX}/remove", token, files=image, data={"tier": "basic"})
    assert check(on_plan, f"{PREFIX}/remove", "post")["job"]["pricingType"] == "subscription"
    subscription = check(
        service.get(f"{PREFIX}/subscription", token), f"{PREFIX}/subscription", "get"
    )
    assert len(subscription["subscription"]["usageRecords"]) == 1
    check(service.get(f"{PREFIX}/stats", token), f"{PREFIX}/stats", "get")
    cancelled = service.delete(f"{PREFIX}/subscription", token)
    check(cancelled, f"{PREFIX}/subscription", "delete")

    # Every documented success was seen on a real body.
    documented = {
        (path, method, "200")
        for path, operations in served.doc["paths"].items()
        for method in operations
        if path != STORAGE
    }
    assert documented <= served.checked, documented - served.checked

    # Error bodies, and readiness when the schema is behind.
    check(service.get(f"{PREFIX}/jobs/nope", token), f"{PREFIX}/jobs/{{job_id}}", "get", 404)
    check(service.get(f"{PREFIX}/jobs"), f"{PREFIX}/jobs", "get", 401)
    unknown = service.get(f"{PREFIX}/batch/nope/download", token)
    check(unknown, f"{PREFIX}/batch/{{batch_id}}/download", "get", 404)
    downgrade(fresh_db, "-1")
    check(service.get("/health/ready"), "/health/ready", "get", 503)
    assert account.user_id


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_the_document_declares_bearer_auth_and_tight_request_schemas(
    remover: RunningService,
) -> None:
    doc = remover.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "HS256 JWT with a userId claim (lumiku-ops token)",
        }
    }
    public = {"/health", "/health/ready"}
    for path, method, operation in _operations(doc):
        expected = None if path in public else [{"bearerAuth": []}]
        assert operation.get("security") == expected, (path, method)

    batch = doc["paths"][f"{PREFIX}/batch"]["post"]
    form = batch["requestBody"]["content"]["multipart/form-data"]["schema"]
    validator = Draft202012Validator(form)
    assert not validator.is_valid({"tier": "basic"})
    assert validator.is_valid({"tier": "basic", "images[0]": "..."})
    assert validator.is_valid({"tier": "basic", "images": ["..."]})
    assert not validator.is_valid({"tier": "basic", "images": []})
    for path in (f"{PREFIX}/remove", f"{PREFIX}/batch"):
        (key,) = [p for p in doc["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert key["name"] == "Idempotency-Key"
        assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_typed_strings_refuse_null_and_405_names_every_method(
    remover: RunningService, fresh_db: str
) -> None:
    service = remover
    _, token = user_with_token(fresh_db, JWT_SECRET, email="null@lumiku.local", credits=99_000)
    url = f"{PREFIX}/subscription"
    no_payment = service.post(url, token, json={"plan": "starter", "paymentId": None})
    assert (no_payment.status_code, no_payment.json()) == (
        400,
        {"error": "paymentId must be a string"},
    )
    assert service.get(url, token).json() == {"subscription": None}
    assert service.post(url, token, json={"plan": "starter"}).status_code == 200
    no_reason = service.delete(url, token, json={"reason": None})
    assert (no_reason.status_code, no_reason.json()) == (400, {"error": "reason must be a string"})
    assert service.get(url, token).json()["subscription"]["status"] == "active"

    put = requests.put(
        service.base_url + url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert put.status_code == 405
    assert put.json() == {"error": "Method Not Allowed"}
    assert put.headers["Allow"] == "DELETE, GET, POST"
    jobs = requests.put(service.base_url + f"{PREFIX}/jobs", timeout=10)
    assert (jobs.status_code, jobs.headers["Allow"]) == (405, "GET")
