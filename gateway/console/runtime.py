"""The console's ports, built once by the composition root (``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..cache import Cache, CacheKeys
from ..settings import ConsoleConfig, Settings
from .accounts import Accounts, SignInLimiter
from .render import Templates
from .sessions import CookieSigner, SessionStore

__all__ = ["ConsoleRuntime", "build_console"]


@dataclass(frozen=True)
class ConsoleRuntime:
    config: ConsoleConfig
    accounts: Accounts
    limiter: SignInLimiter
    sessions: SessionStore
    signer: CookieSigner
    templates: Templates


def build_console(settings: Settings, cache: Cache, keys: CacheKeys) -> ConsoleRuntime:
    config = settings.console
    secret = settings.cache.hash_key.read()
    return ConsoleRuntime(
        config=config,
        accounts=Accounts(config.users),
        limiter=SignInLimiter(cache, keys, config),
        sessions=SessionStore(
            cache,
            keys,
            secret,
            idle_seconds=config.idle_minutes * 60,
            max_seconds=config.max_hours * 3600,
        ),
        signer=CookieSigner(secret),
        templates=Templates(),
    )
