"""Where the console may send a person back to: its own pages only (an open redirect
through ``next`` or a form's ``back`` would lend the hospital's address to a phishing link)."""

from __future__ import annotations

__all__ = ["local_path"]


def local_path(path: str | None) -> str:
    """``path`` if it is one of the console's own pages, else the console's home."""
    if (
        path
        and path.startswith("/console/")
        and not path.startswith("//")
        and "\\" not in path
        and all(c.isprintable() for c in path)
        and len(path) < 300
    ):
        return path
    return "/console/today"
