"""A runbook's parameters checked against what its ``parameters`` cell declares.

papermill writes any value into the notebook, and in Python every non-empty string is
true: ``-p confirm no`` once applied a migration. So before anything runs, each value is
checked, and converted, against the declared type: a bool takes only ``true``/``false``
(any case), an int or a float only a number, a duration parameter only a duration; an
unknown name is a typo. A string never carries a password, a token or a key: secrets
reach a runbook by environment-variable name, because papermill saves parameter values in
the notebook. A file parameter names a readable regular file before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lumiku_ops.durations import parse_duration
from lumiku_ops.errors import ConfigError
from lumiku_ops.logs.reader import check_readable

# Parameters whose strings are durations ("5s", "500ms", "2m"), checked like the flags.
DURATION_PARAMETERS = frozenset({"deadline", "lock_timeout", "statement_timeout"})
# Parameters naming a file the runbook reads ("" reads none).
FILE_PARAMETERS = frozenset({"log_file"})
_PASSWORD_IN_URL = re.compile(r"://[^/@\s:]+:[^/@\s]+@|[?&;\s]password=", re.IGNORECASE)
# A query or fragment key that carries a credential (?token=, ?access_token=, ?api_key=, ...), or a JWT.
_TOKEN_IN_TEXT = re.compile(
    r"[?&;#](?:[a-z_-]*token|api[_-]?key|apikey|key|secret|client_secret|jwt|auth"
    r"|authorization|bearer|signature|sig)=[^&;#\s]"
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
    re.IGNORECASE,
)


def _convert(name: str, kind: str, value: Any) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigError(f"parameter '{name}' is a bool: give true or false, not {value!r}")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise ConfigError(f"parameter '{name}' is an {kind}, not a bool")
        number_type = int if kind == "int" else float
        if isinstance(value, int | float) and (kind == "float" or isinstance(value, int)):
            return number_type(value)
        try:
            return number_type(str(value).strip())
        except ValueError:
            raise ConfigError(f"parameter '{name}' is an {kind}, not {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"parameter '{name}' is a string, not {type(value).__name__}")
    if "\x00" in value:
        raise ConfigError(f"parameter '{name}' holds a NUL byte")
    if _PASSWORD_IN_URL.search(value):
        raise ConfigError(
            f"parameter '{name}' holds a password, which would be saved in the notebook; "
            "put the URL in an environment variable and pass its name instead"
        )
    if _TOKEN_IN_TEXT.search(value):
        raise ConfigError(
            f"parameter '{name}' holds a token or key, which would be saved in the notebook; "
            "remove it, and pass the token by variable name (-p token_env NAME)"
        )
    if name in DURATION_PARAMETERS:
        try:
            parse_duration(value)
        except ConfigError as exc:
            raise ConfigError(f"parameter '{name}': {exc}") from None
    return value


def validate_parameters(
    runbook: str, declared: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]
) -> dict[str, Any]:
    """``values`` converted to the declared types; raises on the first bad one.

    Args:
        runbook: the runbook's name, for messages.
        declared: papermill's ``inspect_notebook`` of the runbook.
        values: what the operator gave (strings from the command line, or Python values).

    Raises:
        ConfigError: an unknown name, or a value of the wrong type; it names the parameter.
    """
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in declared:
            raise ConfigError(
                f"runbook {runbook} has no parameter '{name}'; it takes: "
                f"{', '.join(declared)}"
            )
        kind = str(declared[name].get("inferred_type_name") or "str")
        checked[name] = _convert(name, kind, value)
    return checked


def check_file_parameters(checked: Mapping[str, Any], *, cwd: Path) -> None:
    """Raise ``ConfigError`` unless each file parameter names a readable regular file.

    Relative paths mean what they mean in ``cwd``, where the runbook's kernel runs.
    """
    for name in sorted(FILE_PARAMETERS & set(checked)):
        value = checked[name]
        if value:
            try:
                check_readable(str(cwd / value))
            except ConfigError as exc:
                raise ConfigError(f"parameter '{name}': {exc}") from None
