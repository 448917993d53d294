"""The package table of the README, enforced: each package imports only what it may.

Every ``import`` and ``from ... import`` of every module is read with ``ast`` (lazy
imports inside functions included), so a forbidden import anywhere in a file fails.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# First-party top-level packages, as the README's layout table lists them.
FIRST_PARTY = frozenset(
    {"mappers", "connectors", "gateway", "conformance", "simulators", "frontdesk", "tests"}
)
# package -> the first-party packages it may import (besides itself).
ALLOWED: Mapping[str, frozenset[str]] = {
    "mappers": frozenset(),
    "connectors": frozenset(),
    "gateway": frozenset({"connectors", "mappers"}),
    "conformance": frozenset({"connectors", "mappers"}),
    "simulators": frozenset({"gateway", "connectors", "mappers"}),
    "frontdesk": frozenset({"gateway", "connectors", "mappers", "conformance", "simulators"}),
    "benchmarks": frozenset(
        {"gateway", "connectors", "mappers", "conformance", "simulators", "frontdesk"}
    ),
}
# Third-party libraries a package must not reach for (the mappers stay pure).
BANNED_THIRD_PARTY: Mapping[str, frozenset[str]] = {
    "mappers": frozenset({"httpx", "redis", "fastapi", "starlette", "structlog", "tenacity"}),
    "connectors": frozenset({"redis", "fastapi", "starlette", "fhir"}),
}


def imported_modules(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source`` (a module named ``module``)."""
    tree = ast.parse(source)
    package_parts = module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: resolve against the importing module's package.
                base = package_parts[: len(package_parts) - node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name


def violations(root: Path, packages: Mapping[str, frozenset[str]]) -> list[str]:
    """Every import in ``root``'s packages that the table forbids, as ``file:line: what``."""
    found: list[str] = []
    for package, allowed in packages.items():
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
                parts.append("__init__")  # so level-1 imports resolve to the package itself
            module = ".".join(parts)
            for line, name in imported_modules(path.read_text(), module):
                top = name.split(".")[0]
                if top in FIRST_PARTY and top != package and top not in allowed:
                    found.append(f"{relative}:{line}: {package} imports {name}")
                if top in BANNED_THIRD_PARTY.get(package, frozenset()):
                    found.append(f"{relative}:{line}: {package} imports {name}")
    return sorted(found)


def test_every_package_imports_only_what_the_table_allows() -> None:
    assert violations(ROOT, ALLOWED) == []


def test_the_product_packages_import_no_simulator_or_kit_module() -> None:
    for package in ("gateway", "connectors", "mappers"):
        assert not {"simulators", "conformance", "frontdesk", "tests"} & ALLOWED[package]


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "gateway" / "services").mkdir(parents=True)
    (tmp_path / "gateway" / "__init__.py").write_text("")
    (tmp_path / "gateway" / "services" / "ok.py").write_text(
        "from connectors import FhirClient\nfrom ..cache import Cache\n"
    )
    (tmp_path / "gateway" / "services" / "bad.py").write_text(
        "def later():\n    from simulators.sandbox import build_sandbox\n"
    )
    (tmp_path / "mappers").mkdir()
    (tmp_path / "mappers" / "impure.py").write_text("import httpx\nfrom gateway import app\n")
    found = violations(tmp_path, ALLOWED)
    assert found == [
        "gateway/services/bad.py:2: gateway imports simulators.sandbox",
        "mappers/impure.py:1: mappers imports httpx",
        "mappers/impure.py:2: mappers imports gateway",
    ]


def test_relative_imports_resolve_to_their_package() -> None:
    names = [n for _, n in imported_modules("from ..cache import X\nfrom . import y\n", "a.b.c")]
    assert names == ["a.cache", "a.b"]
