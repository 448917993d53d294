"""Which EHR A and EHR B patients are the same person: the answer key for matching.

``ground_truth(seed)`` computes it from the generator; ``ground_truth.json`` next to this
module holds it for the default seed (a unit test keeps the two equal). Regenerate with
``python -m simulators.seed``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulators.seed.people import DEFAULT_SEED, roster
from simulators.seed.profiles import EHR_A, EHR_B

__all__ = ["GROUND_TRUTH_FILE", "ground_truth", "render", "write"]

GROUND_TRUTH_FILE = Path(__file__).with_name("ground_truth.json")


def ground_truth(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Same-person pairs (with how the records differ) and decoy pairs (same name, two people)."""
    r = roster(seed)
    return {
        "seed": seed,
        "sources": [EHR_A.id, EHR_B.id],
        "same_person": [
            {EHR_A.id: s.ehr_a, EHR_B.id: s.ehr_b, "differences": list(s.differences)}
            for s in r.same_person
        ],
        "different_people_same_name": [{EHR_A.id: a, EHR_B.id: b} for a, b in r.decoys],
    }


def render(seed: int = DEFAULT_SEED) -> str:
    return json.dumps(ground_truth(seed), indent=2) + "\n"


def write(path: Path = GROUND_TRUTH_FILE, seed: int = DEFAULT_SEED) -> Path:
    path.write_text(render(seed), encoding="utf-8")
    return path
