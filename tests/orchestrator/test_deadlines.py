"""`within` bounds a wait and, unlike asyncio.wait_for on Python 3.11, never drops a cancellation."""

import asyncio

import pytest

from orchestrator.deadlines import within


async def test_a_task_cancelled_as_its_wait_ends_is_cancelled() -> None:
    """The cancel lands 0, 1 or 2 loop steps after what the task waits for has ended: each time either the
    task had finished already, or it stops cancelled (asyncio.wait_for went on after 1 step, every time)."""
    went_on = cancelled = 0
    for steps in (0, 1, 2) * 10:
        done = asyncio.Event()

        async def waits(done: asyncio.Event) -> bool:
            await within(5, done.wait())
            return True

        task = asyncio.create_task(waits(done))
        await asyncio.sleep(0)  # the task is waiting
        done.set()
        for _ in range(steps):
            await asyncio.sleep(0)
        if not task.cancel():
            continue  # it had finished already: nothing was cancelled
        cancelled += 1
        try:
            went_on += await task
        except asyncio.CancelledError:
            pass
    assert cancelled and not went_on, f"{went_on} of {cancelled} cancelled tasks went on"


async def test_past_its_bound_the_wait_is_a_timeout() -> None:
    never = asyncio.Event()
    with pytest.raises(TimeoutError):
        await within(0.05, never.wait())
    assert await within(None, asyncio.sleep(0, "answer")) == "answer"
