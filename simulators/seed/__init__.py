"""Deterministic synthetic data for the two test EHRs, and its loader.

    from simulators.seed import build_bundles, load
    report = await load(fhir_client, build_bundles("ehr-a", seed=7, today=date(2026, 1, 5)))

``ground_truth(seed)`` (and ``ground_truth.json``) says which EHR A and EHR B patients
are the same person.
"""

from simulators.seed.generator import (
    MAX_BUNDLE_ENTRIES,
    RESOURCE_ORDER,
    SLOT_WINDOW_DAYS,
    build_bundles,
    build_resources,
)
from simulators.seed.ground_truth import GROUND_TRUTH_FILE, ground_truth
from simulators.seed.loader import SeedError, SeedReport, TransactionPort, load
from simulators.seed.people import DEFAULT_SEED
from simulators.seed.profiles import PROFILES

__all__ = [
    "DEFAULT_SEED",
    "GROUND_TRUTH_FILE",
    "MAX_BUNDLE_ENTRIES",
    "PROFILES",
    "RESOURCE_ORDER",
    "SLOT_WINDOW_DAYS",
    "SeedError",
    "SeedReport",
    "TransactionPort",
    "build_bundles",
    "build_resources",
    "ground_truth",
    "load",
]
