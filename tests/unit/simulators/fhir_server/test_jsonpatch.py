from __future__ import annotations

import pytest

from simulators.fhir_server.jsonpatch import apply_patch
from simulators.fhir_server.outcome import FhirError


def test_operations_apply_in_order_without_touching_the_input() -> None:
    original = {"name": [{"given": ["A"]}], "gender": "male"}
    patched = apply_patch(
        original,
        [
            {"op": "add", "path": "/name/0/given/-", "value": "B"},
            {"op": "replace", "path": "/gender", "value": "female"},
            {"op": "copy", "from": "/gender", "path": "/x~1y"},
            {"op": "test", "path": "/x~1y", "value": "female"},
            {"op": "remove", "path": "/x~1y"},
        ],
    )
    assert patched == {"name": [{"given": ["A", "B"]}], "gender": "female"}
    assert original == {"name": [{"given": ["A"]}], "gender": "male"}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/a/5"}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "frobnicate", "path": "/a"}],
        {"op": "add"},
    ],
)
def test_failing_patches_are_400(ops: object) -> None:
    with pytest.raises(FhirError) as caught:
        apply_patch({"a": [1]}, ops)
    assert caught.value.status == 400
