"""``python -m benchmarks`` runs every scenario; ``python -m benchmarks NAME ...`` runs some.

A scenario is any module in this package with a ``main(argv) -> int`` function
(``benchmarks/mapping.py`` is the scenario ``mapping``), so a new one needs no
registration here. Each prints ratios measured within its own run, so the
figures compare like with like on whatever machine runs them. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path

_Main = Callable[[list[str] | None], int]


def scenarios() -> list[str]:
    """Scenario names: the package's public modules, sorted."""
    here = [str(Path(__file__).parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if not m.name.startswith("_"))


def _load(name: str) -> _Main | None:
    module = importlib.import_module(f"benchmarks.{name}")
    main: _Main | None = getattr(module, "main", None)
    return main


def main(argv: list[str] | None = None) -> int:
    known = scenarios()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {known}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios if n not in known]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    status = 0
    for name in args.scenarios or known:
        run = _load(name)
        if run is not None:
            status |= run(None)
    return status


if __name__ == "__main__":
    sys.exit(main())
