"""A single-file HTML report a person reads: summary, failures first, each with the
request sent and a short excerpt of the answer. No scripts, no external assets."""

from __future__ import annotations

from html import escape

from conformance.model import CheckResult, Status
from conformance.runner import Report

__all__ = ["to_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
.pass{color:#17692f}.fail{color:#b3261e;font-weight:bold}.skip{color:#777}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff}
.ok{background:#17692f}.ko{background:#b3261e}
details{margin:.6em 0;border:1px solid #ddd;border-radius:.4em;padding:.4em .8em}
summary{cursor:pointer}pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap;
word-break:break-all;font-size:12px}
"""

_ORDER = {Status.FAIL: 0, Status.SKIP: 1, Status.PASS: 2}


def _check(r: CheckResult) -> str:
    status = r.status.value
    parts = [
        f"<details{' open' if r.blocking else ''}><summary>"
        f'<span class="{status}">{status.upper()}</span> '
        f"<code>{escape(r.id)}</code> {escape(r.title)} "
        f"<small>({escape(r.severity.value)}, {r.duration_ms:.0f} ms)</small></summary>",
        f'<p>Spec: <a href="{escape(r.spec_url)}">{escape(r.spec_url)}</a></p>',
    ]
    if r.reason:
        parts.append(f"<p><strong>{escape(r.reason)}</strong></p>")
    if r.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in r.notes) + "</ul>")
    # The last exchanges are the ones that decided the outcome.
    for e in r.exchanges[-4:]:
        parts.append(
            f"<p><code>{escape(e.method)} {escape(e.url)}</code> → "
            f"<b>{e.status if e.status is not None else escape(e.error or '')}</b> "
            f"({e.elapsed_ms:.0f} ms)</p>"
        )
        if e.request_excerpt:
            parts.append(f"<pre>sent: {escape(e.request_excerpt)}</pre>")
        if e.response_excerpt:
            parts.append(f"<pre>answer: {escape(e.response_excerpt)}</pre>")
    parts.append("</details>")
    return "\n".join(parts)


def to_html(report: Report) -> str:
    counts = report.counts()
    verdict = (
        '<span class="badge ko">NOT READY</span>'
        if report.failed
        else '<span class="badge ok">READY</span>'
    )
    ordered = sorted(report.results, key=lambda r: (_ORDER[r.status], not r.blocking))
    timing = "".join(
        f"<tr><td>{escape(t.interaction)}</td><td>{t.count}</td><td>{t.p50_ms}</td>"
        f"<td>{t.p95_ms}</td><td>{t.max_ms}</td></tr>"
        for t in report.timing
    )
    leftovers = (
        "<p class=fail>Not cleaned up: " + escape("; ".join(report.leftovers)) + "</p>"
        if report.leftovers
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>frontdesk conformance: {escape(report.base_url)}</title><style>{_CSS}</style></head>
<body>
<h1>frontdesk conformance {verdict}</h1>
<table>
<tr><th>Server</th><td>{escape(report.base_url)}</td></tr>
<tr><th>Vendor profile</th><td>{escape(report.vendor)}</td></tr>
<tr><th>Mode</th><td>{escape(report.mode.value)}</td></tr>
<tr><th>Started</th><td>{escape(report.started_at.isoformat(timespec="seconds"))}
 ({report.seconds:.1f} s, run {escape(report.run_id)})</td></tr>
<tr><th>Checks</th><td><span class="pass">{counts["pass"]} passed</span>,
 <span class="fail">{counts["fail"]} failed</span> ({counts["blocking"]} error-severity),
 <span class="skip">{counts["skip"]} skipped</span></td></tr>
</table>
{leftovers}
<h2>Checks (failures first)</h2>
{"".join(_check(r) for r in ordered)}
<h2>Latency per interaction (ms)</h2>
<table><tr><th>interaction</th><th>n</th><th>p50</th><th>p95</th><th>max</th></tr>
{timing}</table>
</body></html>
"""
