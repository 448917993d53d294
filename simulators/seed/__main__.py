"""``python -m simulators.seed``: rewrite ground_truth.json for the default seed."""

from simulators.seed.ground_truth import write

print(f"wrote {write()}")
