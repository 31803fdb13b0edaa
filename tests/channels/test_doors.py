"""The door every channel shares: no message is answered with silence."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prometheus_client import REGISTRY
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from channels.doors import BLANK_REPLY, TROUBLE_REPLY, guarded
from personalization.metrics import MESSAGES_FAILED, MESSAGES_REFUSED
from personalization.settings import InputLimits
from stack.services import free_tcp_port

pytestmark = pytest.mark.fast

LIMITS = InputLimits(max_message_chars=2000, max_body_bytes=100_000)


def handled(text: str, on_new_message) -> tuple[list[str], list[str]]:
    """The replies the door sent for ``text``, and the texts that reached Rasa."""
    output = CollectingOutputChannel()
    reached: list[str] = []

    async def rasa(message: UserMessage) -> None:
        reached.append(message.text)
        await on_new_message(message)

    handle = guarded(rasa, "test", LIMITS)
    asyncio.run(handle(UserMessage(text, output, "door-test")))
    return [m["text"] for m in output.messages], reached


def count(metric, **labels: str) -> float:
    return metric.labels(**labels)._value.get()


def test_a_blank_message_is_answered_without_reaching_rasa() -> None:
    before = count(MESSAGES_REFUSED, channel="test", reason="blank")

    async def rasa(message: UserMessage) -> None:
        raise AssertionError("a blank message must not reach Rasa")

    for blank in (" ", "\u00a0", "\u3000\t\n"):
        assert handled(blank, rasa) == ([BLANK_REPLY], [])
    assert count(MESSAGES_REFUSED, channel="test", reason="blank") == before + 3


def test_a_failed_custom_action_gets_the_trouble_reply() -> None:
    """Rasa swallows the failure of a custom action (here: nothing listens on its port)."""
    dead = EndpointConfig(f"http://127.0.0.1:{free_tcp_port()}/webhook")
    before = count(MESSAGES_FAILED, channel="test", error="action")

    async def rasa(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Hello!")
        with contextlib.suppress(Exception):  # as MessageProcessor._run_action does
            await RemoteAction("action_greet", dead).run(
                message.output_channel,
                TemplatedNaturalLanguageGenerator({}),
                DialogueStateTracker(message.sender_id, []),
                Domain.empty(),
            )

    replies, reached = handled("hi", rasa)
    assert reached == ["hi"]
    assert replies == ["Hello!", TROUBLE_REPLY]
    assert count(MESSAGES_FAILED, channel="test", error="action") == before + 1


def test_a_turn_without_failure_gets_only_the_bot_reply() -> None:
    async def rasa(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Hello!")

    assert handled("hi", rasa) == (["Hello!"], ["hi"])


def test_a_failure_inside_rasa_gets_the_trouble_reply() -> None:
    async def rasa(message: UserMessage) -> None:
        raise RuntimeError("the customer wrote: my card is 4111 1111 1111 1111")

    assert handled("hi", rasa) == ([TROUBLE_REPLY], ["hi"])


def test_every_message_is_timed_per_channel_refused_or_answered() -> None:
    def seen() -> float:
        return REGISTRY.get_sample_value("shopbot_message_seconds_count", {"channel": "test"}) or 0

    before = seen()

    async def slow(message: UserMessage) -> None:
        await asyncio.sleep(0.05)
        await message.output_channel.send_text_message(message.sender_id, "Hello!")

    assert handled("hi", slow)[0] == ["Hello!"]
    assert handled(" ", slow)[0] == [BLANK_REPLY]
    assert seen() == before + 2
    total = REGISTRY.get_sample_value("shopbot_message_seconds_sum", {"channel": "test"})
    assert total is not None and total >= 0.05
