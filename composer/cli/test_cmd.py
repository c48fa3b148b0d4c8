"""``composer test [FILE] [--matrix] [--format json] [--junit FILE] [--restore]``: lab checks for CI.

FILE (default ``lab.tests.yaml`` next to the project file, or in the current
folder) lists named checks and steps (see :mod:`composer.project.models.labtests`).
A live line per check, a summary; the exit status is 0 only when every check
passed.  ``--matrix`` checks that every service reaches every other one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from composer.verbs.labtest import CheckResult

DEFAULT_FILE = "lab.tests.yaml"


def register(app: typer.Typer) -> None:
    @app.command("test")
    def test(
        ctx: typer.Context,
        file: Annotated[Path | None, typer.Argument(help=f"The checks (default {DEFAULT_FILE}).")] = None,
        matrix: Annotated[
            bool, typer.Option("--matrix", help="Every service pings every other one.")
        ] = False,
        fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
        junit: Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here.")] = None,
        restore: Annotated[
            bool,
            typer.Option(
                "--restore", help="Afterwards put the file's link settings back, start what stopped."
            ),
        ] = False,
    ) -> None:
        """Run the lab's checks (reach, route, command, steps) and exit 0 only if all pass."""
        from composer.cli.context import options
        from composer.verbs import labtest

        opts = options(ctx)
        layout, host = opts.layout(), opts.host()
        began = time.monotonic()
        show = _live_line if fmt != "json" else (lambda _r: None)
        if matrix:
            results = labtest.run_matrix(layout, host, show)
        else:
            from composer.project.labfiles import load_lab_tests

            spec = load_lab_tests(file or _default_file(opts.files))
            results = labtest.run_tests(layout, host, spec, show, restore=restore)
        elapsed = time.monotonic() - began
        if junit is not None:
            junit.write_text(junit_xml(layout.name, results, elapsed))
        failed = [r for r in results if not r.passed]
        if fmt == "json":
            typer.echo(json.dumps({"project": layout.name, "passed": len(results) - len(failed),
                                   "failed": len(failed), "seconds": round(elapsed, 3),
                                   "checks": [_as_json(r) for r in results]}, indent=2))  # fmt: skip
        else:
            typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed in {elapsed:.2f}s")
        if failed:
            raise typer.Exit(1)


def _default_file(files: list[Path]) -> Path:
    folder = files[0].parent if files else Path.cwd()
    return folder / DEFAULT_FILE


def _live_line(result: CheckResult) -> None:
    mark = "PASS" if result.passed else "FAIL"
    typer.echo(f"{mark}  {result.name}  ({result.detail}, {result.seconds * 1000:.0f} ms)")


def _as_json(result: CheckResult) -> dict[str, Any]:
    return {"name": result.name, "kind": result.kind, "passed": result.passed, "detail": result.detail,
            "seconds": round(result.seconds, 4)}  # fmt: skip


def junit_xml(project: str, results: list[CheckResult], elapsed: float) -> str:
    """JUnit XML as CI systems read it: one testsuite, a testcase per check, a failure element when failed."""
    from xml.etree import ElementTree as ET

    failed = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name=f"composer test {project}", tests=str(len(results)),
                       failures=str(failed), errors="0", skipped="0", time=f"{elapsed:.3f}")  # fmt: skip
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"{project}.{result.kind}", name=result.name,
                             time=f"{result.seconds:.3f}")  # fmt: skip
        if not result.passed:
            ET.SubElement(case, "failure", message=result.detail, type=result.kind).text = result.detail
    suites = ET.Element("testsuites", tests=str(len(results)), failures=str(failed), time=f"{elapsed:.3f}")
    suites.append(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
