"""Alembic's view of a project's migrations: the project's ``Config`` and its
``ScriptDirectory``, with the revision folders resolved as Alembic resolves them (but from the
file that names them, never the current directory), and every revision file loaded once
per command unless a file changed. Running revisions is :mod:`lumiku_ops.migrate.runner`.
"""

from __future__ import annotations

import io
import shutil
import sys
import warnings
from argparse import Namespace
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from lumiku_ops.errors import ConfigError
from lumiku_ops.project import Project
from lumiku_ops.project_code import (
    describe_exit,
    prepend_to_sys_path,
    project_code,
    resolve_location,
)

_histories: dict[Project, tuple[tuple[tuple[str, int, int], ...], ScriptDirectory]] = {}


@cache
def alembic_config(project: Project) -> Config:
    """The one Config for the project's migrations (built once per process and project).

    The project's ``alembic.ini`` supplies its own options (``file_template``,
    ``version_locations``, post-write hooks); ``script_location`` is always the project's
    resolved migrations folder, so the current directory never matters. Revisions are run
    with a per-call copy (``_run``) that also carries the database's URL.
    """
    return new_config(project)


def new_config(project: Project) -> Config:
    """A fresh Config for the project (``alembic_config`` is the shared one)."""
    ini = str(project.alembic_ini) if project.alembic_ini else None
    # Alembic's progress messages would pollute --json output; results carry what matters.
    # ``x`` is what ``alembic -x`` would pass, so context.get_x_argument() answers.
    options = Namespace(quiet=True, x=list(project.x_arguments) or None)
    config = Config(ini, stdout=io.StringIO(), cmd_opts=options)
    config.set_main_option("script_location", str(project.migrations_dir))
    _place_folders(project, config)
    if not config.get_main_option("file_template"):
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        config.set_main_option("truncate_slug_length", "60")
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not config.get_section("post_write_hooks") and Path(ruff).exists():
        # Generated revisions come out formatted like the rest of the code base.
        config.set_section_option("post_write_hooks", "hooks", "ruff_format")
        config.set_section_option("post_write_hooks", "ruff_format.type", "exec")
        config.set_section_option("post_write_hooks", "ruff_format.executable", ruff)
        config.set_section_option(
            "post_write_hooks", "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME"
        )
    return config


def version_locations(project: Project) -> list[Path]:
    """The revision folders: ``version_locations`` from ``[tool.lumiku-ops]``, else the ini's.

    Resolved as Alembic resolves them (``%(here)s``, ``package:path``), but a relative path
    is taken from the file that names it (the project root, or the ini's folder), never from
    the current directory.
    """
    if project.version_locations:
        base, entries = project.root, list(project.version_locations)
        where = f"{project.pyproject}: [tool.lumiku-ops] version_locations"
    elif project.alembic_ini is not None:
        base, where = project.alembic_ini.parent, f"{project.alembic_ini}: version_locations"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Alembic's note about path_separator
            entries = Config(str(project.alembic_ini)).get_version_locations_list() or []
    else:
        return []
    return [
        resolve_location(entry.replace("%(here)s", str(base)), base, where)
        for entry in entries
        if entry.strip()
    ]


def _place_folders(project: Project, config: Config) -> None:
    locations = version_locations(project)
    if config.get_main_option("prepend_sys_path"):
        # Alembic would resolve it from the current directory; the ini's folder is meant.
        base = project.alembic_ini.parent if project.alembic_ini else project.root
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entries = config.get_prepend_sys_paths_list() or []
        for entry in reversed(entries):
            prepend_to_sys_path((base / entry.strip()).resolve())
        config.remove_main_option("prepend_sys_path")
    if locations:
        config.set_main_option("path_separator", "newline")
        config.set_main_option(
            "version_locations", "\n".join(str(p).replace("%", "%%") for p in locations)
        )


def script_directory(project: Project) -> ScriptDirectory:
    """Alembic's view of the project's migrations, every revision loaded.

    Raises:
        ConfigError: the folder is not an Alembic folder, the history holds no revision,
            or a revision file fails to import (the message names the file).
    """
    folder = project.migrations_dir
    config = alembic_config(project)
    locations = version_locations(project)
    if not folder.is_dir() or not ((folder / "versions").is_dir() or locations):
        raise ConfigError(
            f"{folder} is not an Alembic migrations folder (no versions/); check "
            f"script_location in {project.alembic_ini or 'alembic.ini'} or pass --migrations DIR"
        )
    prepend_to_sys_path(project.root)
    folders = locations or [folder / "versions"]
    # Loading imports every revision file: once per command, unless a file changed since.
    signature = _files_signature(folders)
    known = _histories.get(project)
    if known is not None and known[0] == signature:
        return known[1]
    scripts = ScriptDirectory.from_config(config)
    try:
        with project_code():
            heads = scripts.get_heads()  # loads (imports) every revision file
    except BaseException as exc:  # noqa: BLE001  (a revision module is the project's code)
        raise ConfigError(
            _revision_import_failure(exc, locations or [folder / "versions"])
        ) from None
    if not heads:
        searched = ", ".join(str(p) for p in (locations or [folder / "versions"]))
        raise ConfigError(
            f"the history is empty: no revision in {searched}. If env.py chooses the "
            "revision folders, list them as version_locations in [tool.lumiku-ops]; a new "
            "project's first revision comes from: alembic revision --autogenerate"
        )
    _histories[project] = (signature, scripts)
    return scripts


def _files_signature(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for folder in folders:
        for path in folder.rglob("*.py") if folder.is_dir() else ():
            stat = path.stat()
            entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def innermost_file(exc: BaseException, folders: list[Path]) -> str | None:
    """The innermost file of the traceback inside one of ``folders``: the revision."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if any(Path(name).resolve().is_relative_to(folder.resolve()) for folder in folders):
            found = name
        tb = tb.tb_next
    return found


def _revision_import_failure(exc: BaseException, folders: list[Path]) -> str:
    """One line naming the revision file that failed to load, and why."""
    from alembic.util import CommandError

    culprit = getattr(exc, "filename", None) if isinstance(exc, SyntaxError) else None
    culprit = culprit or innermost_file(exc, folders)
    if isinstance(exc, CommandError) and culprit is None:
        return f"alembic: {exc}"
    where = f"revision file {culprit}" if culprit else f"a revision file in {folders[0]}"
    return f"{where} fails to load: {describe_exit(exc)}"
