"""Running a runbook: papermill executes it, nbconvert renders it, the results are read back.

Every run leaves three files in its output folder: the executed notebook, a reviewer's HTML
(outputs only, no code) and a full HTML (code and outputs). A failed step still leaves all
three: papermill saves the notebook with its error banner before raising, and that banner
is the first thing an operator opens.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.errors import ConfigError
from lumiku_ops.escaping import add_content_security_policy
from lumiku_ops.redaction import redact
from lumiku_ops.runbooks.catalogue import RUNBOOKS, RUNBOOKS_DIR
from lumiku_ops.runbooks.parameters import check_file_parameters, validate_parameters
from lumiku_ops.runbooks.steps import read_recorded


@dataclass
class RunbookRun:
    """One executed runbook: where its files are, what it recorded, how it ended."""

    name: str
    notebook: Path
    html: Path
    html_with_code: Path
    recorded: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every cell ran without an error."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "passed": self.passed,
            "error": self.error,
            "notebook": str(self.notebook),
            "html": str(self.html),
            "html_with_code": str(self.html_with_code),
            "recorded": self.recorded,
            "duration_s": round(self.duration_s, 2),
        }


def resolve_runbook(name: str) -> Path:
    """The notebook for ``name``: a path, a runbook's name, or its unambiguous start
    (``01``, ``01_diagnose``, ``01_diagnose_500s.ipynb``)."""
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.exists():
        return candidate.resolve()
    stem = name.removesuffix(".ipynb")
    matches = [known for known in RUNBOOKS if stem and known.startswith(stem)]
    if len(matches) == 1:
        return RUNBOOKS_DIR / f"{matches[0]}.ipynb"
    problem = f"'{name}' could be {' or '.join(matches)}" if matches else f"no runbook '{name}'"
    raise ConfigError(f"{problem}; choose one of: {', '.join(RUNBOOKS)}")


def runbook_parameters(name: str) -> dict[str, dict[str, Any]]:
    """The parameters a runbook declares, with defaults and help (papermill's inspection)."""
    import papermill

    return dict(papermill.inspect_notebook(str(resolve_runbook(name))))


def render_html(notebook: Path, destination: Path, *, with_code: bool) -> Path:
    """Render ``notebook`` to HTML; the reviewer version hides code cells and prompts.

    The page loads nothing from another host: nbconvert's script URLs (require.js, MathJax,
    Mermaid, jQuery, widgets) are blanked, and a Content-Security-Policy forbids scripts and
    remote resources, so neither a log line nor the template can make the browser reach out.
    """
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        require_js_url="",
        mathjax_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        jquery_url="",
        jupyter_widgets_base_url="",
    )
    with warnings.catch_warnings():
        # Recorded results use a private mimetype that HTML deliberately does not show.
        warnings.filterwarnings("ignore", message=".*is not able to be represented")
        body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    destination.write_text(add_content_security_policy(body), encoding="utf-8")
    return destination


def run_runbook(
    name: str,
    *,
    parameters: dict[str, Any] | None = None,
    out_dir: Path,
    progress: bool = False,
    cwd: Path | None = None,
) -> RunbookRun:
    """Execute a runbook with ``parameters`` into ``out_dir`` and render both HTML versions.

    A failing step is a result (``error`` set), not an exception, so the caller still gets
    the saved notebook and its reports. The kernel runs in ``cwd`` (default: the
    current directory), so relative paths in parameters mean what they mean here.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = resolve_runbook(name)
    # Before anything runs or any file is written: a bad value is a usage error.
    checked = validate_parameters(name, runbook_parameters(str(source)), parameters or {})
    check_file_parameters(checked, cwd=(cwd or Path.cwd()).resolve())
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the output folder {out_dir}: {exc.strerror}; pass --out DIR"
        ) from None
    stem = source.stem
    run = RunbookRun(
        name=stem,
        notebook=out_dir / f"{stem}.ipynb",
        html=out_dir / f"{stem}.html",
        html_with_code=out_dir / f"{stem}.code.html",
    )
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(run.notebook),
            parameters=checked,
            kernel_name="python3",
            progress_bar=progress,
            cwd=str((cwd or Path.cwd()).resolve()),
            # The kernel's own start-up chatter is not the operator's business.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as exc:
        run.error = redact(f"{exc.ename}: {exc.evalue}".strip())
    run.duration_s = time.perf_counter() - started
    render_html(run.notebook, run.html, with_code=False)
    render_html(run.notebook, run.html_with_code, with_code=True)
    run.recorded = read_recorded(run.notebook)
    return run
