"""The one error mappers raise for unusable input."""

from __future__ import annotations

__all__ = ["MappingError"]


class MappingError(ValueError):
    """An upstream record (or X12 interchange) that cannot be used.

    ``path`` names where the problem is: a FHIR element path such as
    ``Slot.start`` or ``Bundle.entry[3].resource.start``, or an X12 segment
    position such as ``segment 14 (EB)``. The message never carries field
    values, so it is safe to log.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def at(self, prefix: str) -> MappingError:
        """The same error, re-rooted under ``prefix`` (e.g. a Bundle entry)."""
        return MappingError(f"{prefix}.{self.path}" if self.path else prefix, self.reason)
