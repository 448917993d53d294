"""linuxforhealth-x12 as an independent reader of the X12 we write and read.

The library needs pydantic 1 (frontdesk needs 2), so it lives in its own tool
environment, ``.tools/x12`` (``make x12-tool``, which ``make test`` runs), and is
only ever run as a subprocess: ``x12_lfh/read_x12.py`` reads files and answers JSON.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.servers import missing

ROOT = Path(__file__).resolve().parents[2]
TOOL_PYTHON = ROOT / ".tools" / "x12" / "bin" / "python"
SCRIPT = Path(__file__).resolve().parent / "x12_lfh" / "read_x12.py"


def read_with_lfh(interchanges: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """What linuxforhealth-x12 holds for each named interchange (one subprocess for all)."""
    if not TOOL_PYTHON.exists():
        missing("linuxforhealth-x12", "its tool environment is built by `make x12-tool`")
    with tempfile.TemporaryDirectory(prefix="frontdesk-x12-") as tmp:
        paths = {}
        for n, (name, text) in enumerate(interchanges.items()):
            path = Path(tmp) / f"{n:03d}.x12"
            path.write_text(text, encoding="ascii")
            paths[str(path)] = name
        result = subprocess.run(
            [str(TOOL_PYTHON), str(SCRIPT), *paths],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"read_x12.py failed ({result.returncode}): {result.stderr[-2000:]}")
    return {paths[item["file"]]: item for item in json.loads(result.stdout)}
