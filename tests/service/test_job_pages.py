"""GET /jobs by cursor, and the queries behind /jobs and /stats reading the index.

Found by bench/api_latency.py: with 100,000 jobs the original's query read every one of the
user's rows to return fifty, and only the first fifty were ever reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Select, create_engine, pool, text
from sqlalchemy.dialects import postgresql

from service.models import utcnow
from service.routes.background_remover import (
    decode_cursor,
    encode_cursor,
    single_jobs_query,
    stats_query,
)
from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import add, batch, job, user_with_token
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db]
JOBS = "/api/background-remover/jobs"
INDEX = "BackgroundRemovalJob_userId_createdAt_id_idx"


@pytest.fixture
def service(
    fresh_db: str, service_factory: Callable[[str], RunningService]
) -> Iterator[RunningService]:
    upgrade(fresh_db, "head")
    yield service_factory(fresh_db)


def pages(service: RunningService, token: str, query: str = "") -> list[dict[str, Any]]:
    """Every page, following nextCursor (at most 20 pages)."""
    bodies: list[dict[str, Any]] = []
    url = JOBS + query
    for _ in range(20):
        response = service.get(url, token)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        if "nextCursor" not in bodies[-1]:
            return bodies
        separator = "&" if "?" in query else "?"
        url = f"{JOBS}{query}{separator}cursor={bodies[-1]['nextCursor']}"
    raise AssertionError("more than 20 pages")


@pytest.mark.http
def test_cursor_pages_return_every_single_job_exactly_once_newest_first(
    fresh_db: str, service: RunningService
) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="pages@lumiku.local")
    other, _ = user_with_token(fresh_db, JWT_SECRET, email="other@lumiku.local")
    parent = batch(account.user_id, "batch_pages")
    add(fresh_db, parent)
    same_moment = utcnow() - timedelta(hours=3)
    singles = [job(account.user_id, age_minutes=minutes) for minutes in range(100)]
    # Ten jobs created in the same millisecond, straddling a page boundary: only the id
    # breaks the tie, and none may be skipped or repeated.
    singles += [job(account.user_id, createdAt=same_moment) for _ in range(10)]
    add(fresh_db, *singles)
    add(fresh_db, *[job(account.user_id, batchId=parent.id, itemIndex=i) for i in range(5)])
    add(fresh_db, *[job(other.user_id) for _ in range(5)])

    bodies = pages(service, token, "?limit=47")
    ids = [item["id"] for body in bodies for item in body["jobs"]]
    assert [len(body["jobs"]) for body in bodies] == [47, 47, 16]
    assert len(ids) == len(set(ids)) == 110
    assert set(ids) == {row.id for row in singles}
    order = [(item["createdAt"], item["id"]) for body in bodies for item in body["jobs"]]
    assert order == sorted(order, reverse=True)

    # Without parameters: the original's first fifty, plus the cursor to the rest.
    first = service.get(JOBS, token).json()
    assert [item["id"] for item in first["jobs"]] == ids[:50]
    assert set(first) == {"jobs", "nextCursor"}
    rest = pages(service, token)
    assert [item["id"] for body in rest for item in body["jobs"]] == ids


@pytest.mark.http
def test_a_list_that_fits_in_one_page_has_the_seeds_shape(
    fresh_db: str, service: RunningService
) -> None:
    account, token = user_with_token(fresh_db, JWT_SECRET, email="short@lumiku.local")
    assert service.get(JOBS, token).json() == {"jobs": []}
    add(fresh_db, *[job(account.user_id, age_minutes=m) for m in range(50)])
    body = service.get(JOBS, token).json()
    assert list(body) == ["jobs"]
    assert len(body["jobs"]) == 50


@pytest.mark.http
@pytest.mark.parametrize(
    "query",
    ["?cursor=not-a-cursor", "?cursor=" + "x" * 201, "?limit=0", "?limit=51", "?limit=ten"],
)
def test_bad_page_parameters_are_400s(fresh_db: str, service: RunningService, query: str) -> None:
    _, token = user_with_token(fresh_db, JWT_SECRET, email="bad@lumiku.local")
    response = service.get(JOBS + query, token)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_cursor_round_trips_and_refuses_what_it_did_not_write() -> None:
    moment = utcnow()
    assert decode_cursor(encode_cursor(moment, "cabc")) == (moment, "cabc")
    for forged in ("", "%%%", encode_cursor(moment, "")[:-4], "MjAyNQ"):
        with pytest.raises(Exception, match="Invalid cursor"):
            decode_cursor(forged)


def explain(connection: Connection, query: Select[Any], params: dict[str, Any]) -> str:
    compiled = query.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[attr-defined]
    values = compiled.construct_params(params)
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), values)
    return "\n".join(str(row[0]) for row in rows)


def test_job_pages_and_stats_count_read_the_index(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        # 20,000 jobs of 20 users, a tenth of them batch items: enough that a plan which
        # read all of a user's rows and sorted them would be the planner's choice without
        # the index.
        connection.execute(
            text(
                'INSERT INTO "BackgroundRemovalBatch" (id, "userId", "batchId",'
                ' "totalImages", tier, "totalCredits", "originalPrice", "finalPrice")'
                " SELECT 'b' || u, 'u' || u, 'bb' || u, 1, 'basic', 3, 3, 3"
                " FROM generate_series(0, 19) AS u"
            )
        )
        connection.execute(
            text(
                'INSERT INTO "BackgroundRemovalJob" (id, "userId", "batchId", "originalUrl",'
                ' tier, "creditsUsed", "createdAt")'
                " SELECT 'j' || g, 'u' || mod(g, 20),"
                " CASE WHEN mod(g, 10) = 0 THEN 'b' || mod(g, 20) END, '/x', 'basic', 3,"
                " TIMESTAMP '2025-10-18' - make_interval(secs => g)"
                " FROM generate_series(1, 20000) AS g"
            )
        )
    # As autovacuum leaves a table: statistics and a visibility map (for index-only scans).
    engine = create_engine(fresh_db, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text('VACUUM ANALYZE "BackgroundRemovalJob"'))
    engine.dispose()
    with connect(fresh_db) as connection:
        first = explain(connection, *single_jobs_query("u3", 51, None))
        later = explain(connection, *single_jobs_query("u3", 51, (utcnow(), "j5000")))
        stats = explain(connection, *stats_query("u3"))
    for plan in (first, later):
        assert f'Index Scan Backward using "{INDEX}"' in plan or (
            f"Index Scan Backward using {INDEX}" in plan
        ), plan
        assert "Sort" not in plan, plan
        assert "Seq Scan" not in plan, plan
    # The count of single jobs: the index's (userId, batchId IS NULL) range, not the table.
    assert f'Index Only Scan using "{INDEX}"' in stats, stats
    assert 'Seq Scan on "BackgroundRemovalJob"' not in stats, stats
