"""FHIR CoverageEligibilityResponse → EligibilityResult (placeholder until implemented)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._primitives import Ctx
from .model import EligibilityResult

__all__ = ["map_coverage_eligibility_response"]


def map_coverage_eligibility_response(resource: Mapping[str, Any], ctx: Ctx) -> EligibilityResult:
    raise ctx.fail("", "CoverageEligibilityResponse mapping is not implemented yet")
