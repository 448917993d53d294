"""``python -m conformance.seed``: rewrite ground_truth.json for the default seed."""

from conformance.seed.ground_truth import write

print(f"wrote {write()}")
