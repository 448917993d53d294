from __future__ import annotations

import subprocess
import sys

import mappers.x12


def test_public_surface_is_pinned() -> None:
    assert sorted(mappers.x12.__all__) == [
        "Delimiters",
        "RETRY_LATER_REASONS",
        "build_270",
        "parse_271",
    ]


def test_x12_mappers_stay_pure() -> None:
    code = (
        "import sys, mappers.x12; "
        "names = ('httpx', 'redis', 'connectors', 'gateway', 'pyx12'); "
        "bad = [m for m in names if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
