"""Per-payer pacing (gateway.pacing) over limits' in-process window: the window's arithmetic;
the shared-Redis behaviour across processes is proven in tests/integration."""

from __future__ import annotations

import asyncio
import time

import pytest
from limits.aio.storage import MemoryStorage

from gateway.pacing import Pacer, rate_item
from gateway.settings import PayerConfig


async def turns_within(pacer: Pacer, kind: str, seconds: float) -> int:
    """How many turns ``kind`` gets in ``seconds`` when it keeps asking."""
    got = 0
    give_up = time.monotonic() + seconds

    async def ask() -> None:
        nonlocal got
        while time.monotonic() < give_up:
            try:
                await asyncio.wait_for(pacer.acquire(kind), give_up - time.monotonic())  # type: ignore[arg-type]
            except TimeoutError:
                return
            got += 1

    await asyncio.gather(*(ask() for _ in range(6)))
    return got


async def test_batch_takes_only_its_share_and_realtime_still_gets_turns() -> None:
    pacer = Pacer(MemoryStorage(), rate_item("10/second"), "acme", batch_share=0.5)
    batch, realtime = await asyncio.gather(
        turns_within(pacer, "batch", 0.9), turns_within(pacer, "realtime", 0.9)
    )
    assert batch == 5
    assert realtime == 5  # what batch left of the window


async def test_realtime_alone_may_use_the_whole_window_and_no_more() -> None:
    pacer = Pacer(MemoryStorage(), rate_item("8/second"), "acme", batch_share=0.5)
    assert await turns_within(pacer, "realtime", 0.9) == 8


def test_a_rate_limit_that_does_not_read_is_refused() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        PayerConfig(id="p", name="P", payer_ids=["P1"], rate_limit="fast please")
    assert PayerConfig(id="p", name="P", payer_ids=["P1"], rate_limit="600/minute")
