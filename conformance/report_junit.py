"""JUnit XML: one testcase per check, which CI systems show natively.

A failed error-severity check is a <failure>; a failed warning is reported in
<system-out> so it is visible without turning the build red; skips are <skipped>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.model import CheckResult, Severity, Status
from conformance.runner import Report

__all__ = ["to_junit"]


def _details(r: CheckResult) -> str:
    lines = [r.reason or "", f"spec: {r.spec_url}", *r.notes]
    for e in r.exchanges[-3:]:
        lines.append(f"{e.method} {e.url} -> {e.status} ({e.elapsed_ms:.0f} ms)")
        if e.response_excerpt:
            lines.append(f"  {e.response_excerpt[:300]}")
    return "\n".join(line for line in lines if line)


def to_junit(report: Report) -> str:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        {
            "name": f"frontdesk-conformance ({report.vendor}, {report.mode.value})",
            "tests": str(len(report.results)),
            "failures": str(counts["blocking"]),
            "errors": "0",
            "skipped": str(counts["skip"]),
            "time": f"{report.seconds:.3f}",
            "timestamp": report.started_at.isoformat(timespec="seconds"),
            "hostname": report.base_url,
        },
    )
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"conformance.{r.group}",
                "name": f"{r.id}: {r.title}",
                "time": f"{r.duration_ms / 1000:.3f}",
            },
        )
        if r.status is Status.SKIP:
            ET.SubElement(case, "skipped", {"message": r.reason or ""})
        elif r.status is Status.FAIL and r.severity is Severity.ERROR:
            failure = ET.SubElement(
                case, "failure", {"message": r.reason or "failed", "type": r.severity.value}
            )
            failure.text = _details(r)
        elif r.status is Status.FAIL:
            ET.SubElement(case, "system-out").text = f"{r.severity.value.upper()}: {_details(r)}"
        elif r.notes:
            ET.SubElement(case, "system-out").text = "\n".join(r.notes)
    root = ET.Element("testsuites", {"name": "frontdesk-conformance"})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
