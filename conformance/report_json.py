"""The JSON report: a stable, versioned schema for machines (CI, dashboards).

Schema "frontdesk.conformance/1": additions keep the version; renames or removals bump it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from conformance.model import CheckResult, Exchange
from conformance.runner import Report

__all__ = ["SCHEMA", "report_dict", "to_json"]

SCHEMA = "frontdesk.conformance/1"


def _exchange(e: Exchange) -> dict[str, Any]:
    return {
        "interaction": e.interaction,
        "method": e.method,
        "url": e.url,
        "status": e.status,
        "elapsed_ms": round(e.elapsed_ms, 1),
        "request_excerpt": e.request_excerpt,
        "response_excerpt": e.response_excerpt,
        "error": e.error,
    }


def _check(r: CheckResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "group": r.group,
        "title": r.title,
        "severity": r.severity.value,
        "status": r.status.value,
        "reason": r.reason,
        "spec": r.spec_url,
        "duration_ms": round(r.duration_ms, 1),
        "notes": r.notes,
        "exchanges": [_exchange(e) for e in r.exchanges],
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "base_url": report.base_url,
        "vendor": report.vendor,
        "mode": report.mode.value,
        "run_id": report.run_id,
        "started_at": report.started_at.isoformat(),
        "seconds": round(report.seconds, 3),
        "passed": not report.failed,
        "summary": report.counts(),
        "checks": [_check(r) for r in report.results],
        "timing": [asdict(t) for t in report.timing],
        "setup_problems": report.setup_problems,
        "leftovers": report.leftovers,
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False)
