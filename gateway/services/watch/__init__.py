"""Seeing changes made in the EHRs themselves: rest-hook Subscriptions or a poll."""

from .changes import ChangeFeed
from .subscriptions import RestHooks
from .watcher import ChangeHandler, SourceWatch, WatchMode, freed_by, hook_token, watch_mode

__all__ = [
    "ChangeFeed",
    "ChangeHandler",
    "RestHooks",
    "SourceWatch",
    "WatchMode",
    "freed_by",
    "hook_token",
    "watch_mode",
]
