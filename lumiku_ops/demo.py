"""The main job: the reference service on a fresh embedded database, ready to call."""

from __future__ import annotations

import click

from lumiku_ops.accounts import ensure_account, issue_token
from lumiku_ops.alembic_runner import upgrade_database
from lumiku_ops.database import resolve_jwt_secret
from lumiku_ops.embedded import start_embedded
from lumiku_ops.serve import ensure_port_free, run_service
from lumiku_ops.settings import Settings
from service.settings import ServiceSettings

DEMO_DATABASE = "lumiku_demo"
DEMO_CREDITS = 1092  # the balance the seed's debug report saw


def run_demo(settings: Settings, *, host: str, port: int, revision: str = "head") -> None:
    """Reset the demo database to ``revision``, create a user, and serve until Ctrl-C.

    The token goes to a 0600 file beside the embedded data, never to the terminal.
    """
    ensure_port_free(host, port)
    embedded = start_embedded(settings.data_dir)
    embedded.drop_database(DEMO_DATABASE)
    embedded.create_database(DEMO_DATABASE)
    url = embedded.url(DEMO_DATABASE)
    upgrade_database(url, settings.migrations_dir, revision)
    secret = resolve_jwt_secret(settings)
    account = ensure_account(url, email="demo@lumiku.local", credits=DEMO_CREDITS)
    token_file = embedded.data_dir.parent / "demo-token"
    token_file.touch(mode=0o600)
    token_file.write_text(issue_token(account, secret) + "\n")

    base = f"http://{host}:{port}"
    say = click.echo
    say(f"lumiku-ops demo: embedded PostgreSQL, database '{DEMO_DATABASE}' at revision {revision}")
    say(f"  service:  {base}   (readiness: {base}/health/ready)")
    say(f'  token:    export LUMIKU_TOKEN="$(cat {token_file})"')
    for path in (
        "/api/background-remover/subscription",
        "/api/background-remover/jobs",
        "/api/background-remover/stats",
        "/api/credits/balance",
        "/api/apps",
    ):
        say(f'  curl -sS {base}{path} -H "Authorization: Bearer $LUMIKU_TOKEN"')
    say("Press Ctrl-C to stop; the embedded server stops with it.")
    run_service(
        ServiceSettings(
            database_url=url, jwt_secret=secret, migrations_dir=settings.migrations_dir
        ),
        host=host,
        port=port,
    )
