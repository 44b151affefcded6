"""Secrets as they turn up in logs, each with what must vanish and what must stay readable.

``text`` is a fragment of a log line; every string in ``hidden`` must be absent from any
output that shows the line, and ``kept`` (the line's non-secret context) must be present,
so masking is never "drop the line". Each secret is unique, so a leak is attributable.
"""

from __future__ import annotations

from typing import NamedTuple


class SecretForm(NamedTuple):
    name: str
    text: str
    hidden: tuple[str, ...]
    kept: str
    to_end: bool = False  # the rest of the line is masked too (a Cookie header: any cookie)


SECRET_FORMS = [
    SecretForm("URL", "dsn postgresql://svc:Pw01url@db01.internal/prod", ("Pw01url",), "svc:"),
    SecretForm(
        "URL, driver, '@' in the password",
        "postgresql+psycopg://svc:Pw02@Ats@db02:5432/prod",
        ("Pw02", "Ats"),
        "db02:5432/prod",
    ),
    SecretForm(
        "URL, '/' in the password", "postgresql://svc:Pw03/Sl@db03/prod", ("Pw03", "Sl@"), "db03"
    ),
    SecretForm(
        "URL, '@' and '/' in the password",
        "postgresql+psycopg2://svc:Pw04@x/Yz@db04:5432/prod",
        ("Pw04", "x/Yz"),
        "db04:5432",
    ),
    SecretForm(
        "URL, password in the query",
        "postgresql://svc@db05/prod?password=Pw05q&sslmode=require",
        ("Pw05q",),
        "sslmode=require",
    ),
    SecretForm("URL, empty user", "redis://:Pw06redis@cache06:6379/0", ("Pw06redis",), "cache06"),
    SecretForm(
        "libpq keyword DSN", "host=db07 user=svc password=Pw07kw dbname=prod", ("Pw07kw",), "db07"
    ),
    SecretForm(
        "libpq keyword DSN, quoted",
        "host=db08 password='Pw08 quoted' dbname=prod",
        ("Pw08", "quoted"),
        "dbname=prod",
    ),
    SecretForm("passfile", "passfile=/home/svc/Pw09.pgpass host=db09", ("Pw09",), "host=db09"),
    SecretForm(
        "sslpassword", "sslpassword=Pw10ssl sslmode=verify-full", ("Pw10ssl",), "verify-full"
    ),
    SecretForm("PGPASSWORD", "PGPASSWORD=Pw11env psql -h db11", ("Pw11env",), "psql -h db11"),
    SecretForm(
        "Bearer JWT",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQdzEyIn0.UHcxMnNpZ25hdHVyZQ",
        ("eyJzdWIiOiJQdzEyIn0", "UHcxMnNpZ25hdHVyZQ"),
        "Authorization",
    ),
    SecretForm(
        "bare JWT",
        "jwt=x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQdzEzIn0.UHcxM3NpZ25hdHVyZQ seen13",
        ("eyJzdWIiOiJQdzEzIn0", "UHcxM3NpZ25hdHVyZQ"),
        "seen13",
    ),
    SecretForm("Basic", "Authorization: Basic UHcxNDp1c2Vy", ("UHcxNDp1c2Vy",), "Basic"),
    SecretForm(
        "JSON password", '{"user": "svc15", "password": "Pw15json"}', ("Pw15json",), "svc15"
    ),
    SecretForm("dict secret", "{'secret': 'Pw16dict', 'app': 'app16'}", ("Pw16dict",), "app16"),
    SecretForm("token=", "token=Pw17tok retry=17", ("Pw17tok",), "retry=17"),
    SecretForm("api_key=", "api_key=Pw18key&limit=18", ("Pw18key",), "limit=18"),
    SecretForm("access_token=", "access_token=Pw19acc; page=19", ("Pw19acc",), "page=19"),
    SecretForm("?token= in a query", "/api/x?token=Pw20qs&page=20", ("Pw20qs",), "page=20"),
    SecretForm("X-Api-Key", "X-Api-Key: Pw21hdr", ("Pw21hdr",), "X-Api-Key"),
    SecretForm("Cookie", "Cookie: session=Pw22ck; theme=dark", ("Pw22ck",), "Cookie", True),
    SecretForm("AWS key id", "aws AKIAPW23EXAMPLE00023 used", ("AKIAPW23EXAMPLE00023",), "used"),
    SecretForm(
        "AWS secret key",
        "aws_secret_access_key=Pw24/AwsSecretKey region=eu24",
        ("Pw24", "AwsSecretKey"),
        "region=eu24",
    ),
    SecretForm(
        "JSON client_secret", '{"client_secret": "Pw25cs", "id": "c25"}', ("Pw25cs",), "c25"
    ),
    SecretForm(
        "escaped JSON",
        '{\\"refresh_token\\": \\"Pw26rt\\", \\"n\\": 26}',
        ("Pw26rt",),
        "refresh_token",
    ),
    SecretForm(
        "JSON Authorization",
        '{"Authorization": "Basic UHcyNzp4eXo=", "n": 27}',
        ("UHcyNzp4eXo",),
        "Authorization",
    ),
    SecretForm(
        "presigned URL", "s3?X-Amz-Signature=Pw28sig&X-Amz-Expires=28", ("Pw28sig",), "Expires=28"
    ),
    SecretForm("SQL literal", "WHERE password = 'Pw29sql' AND id = 29", ("Pw29sql",), "id = 29"),
]
# No secret here: every word must come out as it went in.
EVIDENCE = [
    'relation "password_resets" does not exist',
    'column "token" of relation "api_keys" does not exist',
    "42P01 GET /api/users/me/sessions",
    "http://api:8080/users/a@b.example",
    "postgresql://svc@db/prod?sslmode=require",
]
