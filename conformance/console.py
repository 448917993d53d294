"""Console output with rich: a line per check as it finishes, a summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from conformance.model import CheckResult, Severity, Status
from conformance.runner import Report

__all__ = ["ConsoleProgress", "print_summary"]

_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.SKIP: "dim"}
_MARK = {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "-"}


class ConsoleProgress:
    """The runner's progress callback: prints each result as soon as it is known."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, result: CheckResult) -> None:
        style = _STYLE[result.status]
        if result.status is Status.FAIL and result.severity is not Severity.ERROR:
            style = "yellow"
        line = f"[{style}]{_MARK[result.status]}[/] {result.id} [dim]{result.title}[/]"
        if result.reason and result.status is not Status.PASS:
            line += f"\n    [{style}]{result.reason}[/]"
        self.console.print(line, highlight=False)


def print_summary(console: Console, report: Report) -> None:
    table = Table(title=f"frontdesk conformance — {report.base_url}")
    for column in ("group", "pass", "fail", "skip", "blocking"):
        table.add_column(column, justify="left" if column == "group" else "right")
    groups: dict[str, list[CheckResult]] = {}
    for r in report.results:
        groups.setdefault(r.group, []).append(r)
    for group, results in groups.items():
        table.add_row(
            group,
            str(sum(r.status is Status.PASS for r in results)),
            str(sum(r.status is Status.FAIL for r in results)),
            str(sum(r.status is Status.SKIP for r in results)),
            str(sum(r.blocking for r in results)),
        )
    console.print(table)
    verdict = "[bold red]NOT READY[/]" if report.failed else "[bold green]READY[/]"
    console.print(
        f"{verdict}  {report.vendor}, {report.mode.value} mode, {len(report.results)} checks "
        f"in {report.seconds:.1f}s (run {report.run_id})"
    )
    for leftover in report.leftovers:
        console.print(f"[yellow]not cleaned up:[/] {leftover}")
