"""The checks, in the order they run. Each module registers its own with `registrar`."""

from __future__ import annotations

from collections.abc import Callable

from conformance.model import Check, CheckBody, Severity

__all__ = ["all_checks", "registrar"]


def registrar(into: list[Check], group: str) -> Callable[..., Callable[[CheckBody], CheckBody]]:
    """A decorator factory that appends a `Check` for each decorated coroutine."""

    def check(
        id: str, title: str, severity: Severity, spec: str, *, write_only: bool = False
    ) -> Callable[[CheckBody], CheckBody]:
        def register(body: CheckBody) -> CheckBody:
            into.append(Check(id, group, title, severity, spec, body, write_only))
            return body

        return register

    return check


def all_checks() -> list[Check]:
    # Imported here so importing the package stays cheap and cycle-free.
    from conformance.checks import (
        capability,
        directory,
        errors,
        incremental,
        operations,
        payloads,
        search,
        smart,
        timing,
        write,
    )

    return [
        *capability.CHECKS,
        *search.CHECKS,
        *directory.CHECKS,
        *incremental.CHECKS,
        *write.CHECKS,
        *operations.CHECKS,
        *smart.CHECKS,
        *errors.CHECKS,
        *payloads.CHECKS,
        *timing.CHECKS,
    ]
