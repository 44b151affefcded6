"""The one rule for confirming a change to a database, shared by the CLI and the runbooks.

A change happens only when asked for (not a dry run). A database not on this machine also
needs an explicit confirmation (``--confirm`` on the command line). A runbook is stricter:
it is executed headless, often with copied parameters, so it changes a database only with
``dry_run=False`` AND ``confirm=True``, wherever the database is.

"On this machine" is decided from where libpq will really connect: every host named by
the URL (its authority, or ``?host=``, which wins, possibly a comma-separated list) must be
a Unix socket directory or a loopback address, and ``?hostaddr=``, when given, is where the
connection goes whatever ``host`` says. A host name other than ``localhost`` is never
assumed local: it may resolve anywhere.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, unquote, urlsplit

from lumiku_ops.errors import ConfirmationRequiredError
from lumiku_ops.redaction import mask_url


def _loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _netloc_hosts(netloc: str) -> list[str]:
    hosts = netloc.rpartition("@")[2]
    found = []
    for entry in hosts.split(","):
        entry = unquote(entry)
        if entry.startswith("["):
            found.append(entry[1 : entry.find("]")] if "]" in entry else entry[1:])
        else:
            found.append(entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry)
    return [host for host in found if host]


def is_local(url: str) -> bool:
    """True when every address libpq would connect to is a Unix socket or loopback."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    addresses = [a for value in query.get("hostaddr", []) for a in value.split(",") if a]
    if addresses:
        return all(_loopback(address) for address in addresses)
    hosts = [h for value in query.get("host", []) for h in value.split(",") if h]
    if not hosts:
        hosts = _netloc_hosts(parts.netloc)
    # No host at all: libpq's default Unix socket on this machine.
    return all(host.startswith(("/", "@")) or _loopback(host) for host in hosts)


def require_confirmation(url: str, *, action: str, dry_run: bool, confirm: bool) -> None:
    """Raise unless the change may go ahead: a dry run, a local database, or confirmed.

    Raises:
        ConfirmationRequiredError: the database is not on this machine and nobody confirmed.
    """
    if dry_run or confirm or is_local(url):
        return
    raise ConfirmationRequiredError(
        f"{mask_url(url)} is not on this machine: review `lumiku-ops migrate plan`, "
        f"then run `lumiku-ops migrate {action} --confirm`"
    )


def runbook_dry_run(*, dry_run: bool, confirm: bool) -> bool:
    """A runbook's effective dry run: a real change needs dry_run=False AND confirm=True."""
    return dry_run or not confirm
