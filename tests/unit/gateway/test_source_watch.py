"""A source watched through Subscriptions checks them again on every safety round."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from gateway.cache import CacheKeys, MemoryCache
from gateway.services.watch import SourceWatch
from gateway.services.watch.changes import ChangeFeed
from gateway.services.watch.subscriptions import RestHooks
from gateway.sources import SourceHandle


@dataclass
class _Feed:
    polls: int = 0

    async def start(self) -> None:
        return None

    async def poll(self) -> int:
        self.polls += 1
        return 0


@dataclass
class _Hooks:
    """Subscriptions another replica may delete: ``answers`` says what each ensure finds."""

    answers: list[bool]
    calls: int = 0
    removed: list[int] = field(default_factory=list)

    async def ensure(self) -> bool:
        self.calls += 1
        return self.answers.pop(0) if self.answers else True

    async def remove(self) -> None:
        self.removed.append(self.calls)


def _watch(feed: _Feed, hooks: _Hooks) -> SourceWatch:
    return SourceWatch(
        tenant="general",
        handle=cast(SourceHandle, SimpleNamespace(id="ehr-a")),
        feed=cast(ChangeFeed, feed),
        cache=MemoryCache(),
        keys=CacheKeys("test"),
        mode="subscription",
        # Safety rounds every 10 x 0.002 s.
        interval_seconds=0.002,
        hooks=cast(RestHooks, hooks),
    )


async def _run_until(watch: SourceWatch, done: Any) -> None:
    task = asyncio.create_task(watch.run())
    try:
        for _ in range(2000):  # up to 20 s: a loaded host stretches every short sleep
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the watcher never got there")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_every_safety_round_makes_sure_the_subscriptions_are_there():
    feed, hooks = _Feed(), _Hooks(answers=[True])
    watch = _watch(feed, hooks)
    await _run_until(watch, lambda: hooks.calls >= 3 and feed.polls >= 2)
    assert watch.active_mode == "subscription"


def _asked_at(feed: _Feed, hooks: _Hooks) -> list[int]:
    """The number of polls done each time the watcher asks for its Subscriptions."""
    asked: list[int] = []
    real_ensure = hooks.ensure

    async def ensure() -> bool:
        asked.append(feed.polls)
        return await real_ensure()

    hooks.ensure = ensure  # type: ignore[method-assign]
    return asked


async def test_a_server_that_stops_taking_subscriptions_is_polled_instead():
    # Taken at the start and one safety round, refused at the next, then refused again.
    feed, hooks = _Feed(), _Hooks(answers=[True, True, False, False])
    asked = _asked_at(feed, hooks)
    watch = _watch(feed, hooks)
    await _run_until(watch, lambda: len(asked) >= 4 and feed.polls >= asked[3] + 10)
    assert watch.active_mode == "poll"
    # Polled every round from the refusal on (that round too); asked again only on the
    # 10th round after it.
    assert asked[3] - asked[2] == 10
    assert len(asked) == 4


async def test_subscriptions_are_tried_again_backing_off_while_refused():
    # Refused at the start and on the first two retries; taken on the third.
    feed, hooks = _Feed(), _Hooks(answers=[False, False, False, True])
    asked = _asked_at(feed, hooks)
    watch = _watch(feed, hooks)
    await _run_until(watch, lambda: watch.active_mode == "subscription")
    # At the start, then on the 10th, 30th and 70th polling rounds (before their poll).
    assert asked == [0, 9, 29, 69]


async def test_a_server_without_subscriptions_is_polled_from_the_start():
    feed, hooks = _Feed(), _Hooks(answers=[False])
    watch = _watch(feed, hooks)
    await _run_until(watch, lambda: feed.polls >= 3)
    assert (watch.active_mode, hooks.calls) == ("poll", 1)


async def test_a_subscription_check_that_breaks_falls_back_instead_of_ending_the_watcher():
    feed, hooks = _Feed(), _Hooks(answers=[])

    async def broken() -> bool:
        hooks.calls += 1
        raise KeyError("id")  # e.g. a create answered without an id

    hooks.ensure = broken  # type: ignore[method-assign]
    watch = _watch(feed, hooks)
    await _run_until(watch, lambda: feed.polls >= 15)
    assert watch.active_mode == "poll"
    assert hooks.calls >= 2  # tried again after a safety round's worth of polls, still alive
