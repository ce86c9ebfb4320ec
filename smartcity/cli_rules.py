"""`smartcity rules check|test FILE`: validate rule files; run rule unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alerts import RuleFileInvalid, load_rules, run_rule_tests

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="a rule file, or a folder of *.yaml rule files")],
) -> None:
    """Validate rule files; errors name the file, line, rule and field."""
    try:
        rules = load_rules(path)
    except RuleFileInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {len(rules)} rules in {len(rules.sources)} file(s)")


@app.command("test")
def run_tests(
    path: Annotated[
        Path, typer.Argument(help="a rule test file, or a folder of *.test.yaml files")
    ],
) -> None:
    """Run rule unit tests: input series over simulated time, alerts expected at moments."""
    try:
        reports = run_rule_tests(path)
    except RuleFileInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    failed = 0
    for report in reports:
        if report.passed:
            typer.echo(f"PASS  {report.file}: {report.name}")
            continue
        failed += 1
        typer.echo(f"FAIL  {report.file}: {report.name}")
        for failure in report.failures:
            typer.echo(f"        {failure}")
    typer.echo(f"{len(reports) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
