"""The gate in front of Rasa's pipeline: a few messages at a time, the rest in arrival order."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor

from stack import message_admission

pytestmark = pytest.mark.fast


@pytest.fixture()
def pipeline(monkeypatch: pytest.MonkeyPatch):
    """Rasa's handle_message replaced by one that records who is inside, then gated."""
    inside: list[int] = []
    entered: list[int] = []
    most = [0]

    async def handle_message(self: MessageProcessor, message: int) -> int:
        entered.append(message)
        inside.append(message)
        most[0] = max(most[0], len(inside))
        await asyncio.sleep(0.01)
        inside.remove(message)
        return message * 10

    monkeypatch.setattr(MessageProcessor, "handle_message", handle_message)
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)  # restored after the test
    yield entered, most
    message_admission.install(0)


def run_messages(count: int) -> list[int]:
    async def all_of_them() -> list[int]:
        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(MessageProcessor.handle_message(None, n)))
            await asyncio.sleep(0)  # arrivals in order
        return list(await asyncio.gather(*tasks))

    return asyncio.run(all_of_them())


def test_two_at_a_time_in_arrival_order(pipeline) -> None:
    entered, most = pipeline
    message_admission.install(2)
    assert run_messages(8) == [n * 10 for n in range(8)]
    assert most[0] == 2
    assert entered == list(range(8))


def test_each_event_loop_gets_its_own_gate(pipeline) -> None:
    _, most = pipeline
    message_admission.install(3)
    run_messages(5)
    run_messages(5)  # a second loop: a semaphore of the first would refuse it
    assert most[0] == 3


def test_zero_lets_every_message_in_as_rasa_does(pipeline) -> None:
    _, most = pipeline
    message_admission.install(0)
    run_messages(6)
    assert most[0] == 6


def test_a_message_waiting_for_the_action_server_lets_another_in_and_comes_back_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []

    async def run(self: RemoteAction, name: str) -> None:
        log.append(f"{name} calls the action server")
        await asyncio.sleep(0.05)
        log.append(f"{name} has its answer")

    async def handle_message(self: MessageProcessor, name: str) -> None:
        log.append(f"{name} in")
        if name == "a":
            await RemoteAction.run(None, name)  # type: ignore[arg-type]
        await asyncio.sleep(0.08 if name == "b" else 0.02)  # work on the CPU
        log.append(f"{name} out")

    monkeypatch.setattr(MessageProcessor, "handle_message", handle_message)
    monkeypatch.setattr(RemoteAction, "run", run)
    message_admission.install(1)

    async def scenario() -> None:
        a = asyncio.create_task(MessageProcessor.handle_message(None, "a"))
        await asyncio.sleep(0.01)
        b = asyncio.create_task(MessageProcessor.handle_message(None, "b"))
        await asyncio.sleep(0.02)  # b is in; c arrives while a still waits for its answer
        c = asyncio.create_task(MessageProcessor.handle_message(None, "c"))
        await asyncio.gather(a, b, c)

    try:
        asyncio.run(scenario())
    finally:
        message_admission.install(0)
    assert log.index("b in") < log.index("a has its answer"), "b used the place a gave up"
    assert log.index("c in") > log.index("b out"), "c waited for the place"
    assert log.index("a out") < log.index("c in"), "a came back ahead of the newer c"


def test_a_cancelled_message_leaves_no_place_taken(pipeline) -> None:
    message_admission.install(1)

    async def scenario() -> int:
        first = asyncio.create_task(MessageProcessor.handle_message(None, 1))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(MessageProcessor.handle_message(None, 2))
        await asyncio.sleep(0)
        waiting.cancel()  # the client went away while it queued
        await first
        with pytest.raises(asyncio.CancelledError):
            await waiting
        gate = message_admission._gate()
        assert gate is not None
        return gate.free

    assert asyncio.run(scenario()) == 1


def test_a_message_that_overstays_lets_the_next_one_in(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []

    async def handle_message(self: MessageProcessor, name: str) -> None:
        log.append(f"{name} in")
        await asyncio.sleep(0.4 if name == "slow" else 0.01)
        log.append(f"{name} out")

    monkeypatch.setattr(MessageProcessor, "handle_message", handle_message)
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)
    message_admission.install(1)

    async def scenario() -> None:
        slow = asyncio.create_task(MessageProcessor.handle_message(None, "slow"))
        await asyncio.sleep(0.01)
        await MessageProcessor.handle_message(None, "quick")
        log.append("quick answered")
        await slow

    try:
        asyncio.run(scenario())
    finally:
        message_admission.install(0)
    assert log.index("quick answered") < log.index("slow out"), (
        "the quick message got in once the slow one had held its place for OVERSTAY_S"
    )
