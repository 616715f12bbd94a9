"""The service's loop turns: small checks run on the event loop in order, one per turn, so
the loop still accepts and reads between them."""

from __future__ import annotations

import asyncio

import pytest

from tosguard.service.turns import LoopTurns


def test_jobs_run_in_order_one_per_turn_of_the_loop() -> None:
    async def scenario() -> list[str]:
        turns, events = LoopTurns(), []

        def job(name: str):
            def run() -> str:
                events.append(name)
                asyncio.get_running_loop().call_soon(events.append, f"after {name}")
                return name.upper()

            return run

        results = await asyncio.gather(*(turns.run(job(n)) for n in ("a", "b", "c")))
        assert results == ["A", "B", "C"]
        turns.stop()
        return events

    events = asyncio.run(scenario())
    # what a job schedules (socket work, other requests) runs before the next job starts
    assert events.index("after a") < events.index("b")
    assert events.index("after b") < events.index("c")


def test_a_failing_job_fails_its_request_only() -> None:
    async def scenario() -> None:
        turns = LoopTurns()

        def broken() -> None:
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await turns.run(broken)
        assert await turns.run(lambda: 42) == 42
        turns.stop()

    asyncio.run(scenario())


def test_a_job_whose_request_stopped_waiting_is_dropped() -> None:
    async def scenario() -> list[str]:
        turns, ran = LoopTurns(), []
        first = asyncio.ensure_future(turns.run(lambda: ran.append("first")))
        second = asyncio.ensure_future(turns.run(lambda: ran.append("second")))
        await asyncio.sleep(0)  # both queued
        second.cancel()
        await first
        await asyncio.sleep(0.01)
        turns.stop()
        return ran

    assert asyncio.run(scenario()) == ["first"]


def test_a_new_event_loop_gets_a_new_runner() -> None:
    turns = LoopTurns()
    assert asyncio.run(turns.run(lambda: 1)) == 1
    assert asyncio.run(turns.run(lambda: 2)) == 2  # the first loop is closed by now
