"""The REST channel behind a real Sanic server: what a client on the network gets back.

The body is read as it streams in, under MAX_REQUEST_BODY_BYTES, so these requests go over a
socket rather than through a hand-built request object.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sanic.touchup import TouchUp

from channels.identity import ChannelIdentity
from channels.rest import RestChannel
from personalization.settings import IdentitySettings, InputLimits
from stack.services import free_tcp_port

pytestmark = pytest.mark.fast

TOO_LONG = "That message is too long for me — please keep it under 2,000 characters."


async def exchange(requests: list[tuple[str, Any, dict[str, str]]]) -> list[tuple[int, str]]:
    """Serve the channel on a free port, send ``requests`` (path suffix, body, headers)."""
    app = Sanic(f"rest_http_{free_tcp_port()}")
    channel = RestChannel()
    channel.identity = ChannelIdentity(None, IdentitySettings(binding_key=b"k" * 24))
    channel.limits = InputLimits(max_message_chars=2000, max_body_bytes=100_000)
    seen: list[str] = []

    async def on_new_message(message: UserMessage) -> None:
        seen.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, f"got {len(seen)}")

    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    port = free_tcp_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    answers: list[tuple[int, str]] = []
    try:
        async with aiohttp.ClientSession() as session:
            for suffix, body, headers in requests:
                url = f"http://127.0.0.1:{port}/webhooks/rest/webhook{suffix}"
                async with session.post(url, data=body, headers=headers) as reply:
                    answers.append((reply.status, await reply.text()))
    finally:
        server.close()
        await server.wait_closed()
    assert all(len(text) <= 2000 for text in seen), "nothing over the limit reached Rasa"
    return answers


JSON = {"content-type": "application/json"}


@pytest.fixture(autouse=True)
def _sanic_restored() -> Iterator[None]:
    """A served Sanic app rewrites methods of Sanic's classes in place ("touch-up") and
    installs uvloop's policy; a later app in the same process would fail to start, so both
    are put back."""
    policy = asyncio.get_event_loop_policy()
    originals = {(target, name): getattr(target, name) for target, name in TouchUp._registry}
    yield
    for (target, name), method in originals.items():
        setattr(target, name, method)
    asyncio.set_event_loop_policy(policy)


def as_json(value: Any) -> str:
    return json.dumps(value)


async def chunks() -> AsyncIterator[bytes]:
    for _ in range(50):
        yield b"x" * 10_000


def test_what_a_client_gets_for_good_long_huge_and_malformed_requests() -> None:
    answers = asyncio.run(
        exchange(
            [
                ("", as_json({"sender": "a", "message": "hello"}), JSON),
                ("", as_json({"sender": "a", "message": "x" * 5000}), JSON),
                ("", as_json({"sender": "a", "message": "x" * 500_000}), JSON),
                ("", "{nope", JSON),
                ("", "[1]", JSON),
                ("", as_json({"sender": "a\u0000", "message": "hi"}), JSON),
                ("", as_json({"sender": "a" * 129, "message": "hi"}), JSON),
                ("", "", JSON),
                ("", chunks(), {}),
                ("?stream=true", as_json({"sender": "a", "message": "x" * 3000}), JSON),
                ("", as_json({"sender": "a", "message": "still there?"}), JSON),
            ]
        )
    )
    statuses = [status for status, _ in answers]
    assert statuses == [200, 200, 413, 400, 400, 400, 400, 400, 413, 200, 200]
    assert json.loads(answers[0][1]) == [{"recipient_id": "rest:a", "text": "got 1"}]
    assert json.loads(answers[1][1]) == [{"recipient_id": "rest:a", "text": TOO_LONG}]
    assert "at most 100000 bytes" in answers[2][1]
    assert "JSON object" in answers[3][1] and "JSON object" in answers[4][1]
    assert "`sender` must be 1 to 128" in answers[5][1]
    assert json.loads(answers[9][1]) == {"recipient_id": "rest:a", "text": TOO_LONG}
    assert json.loads(answers[10][1]) == [{"recipient_id": "rest:a", "text": "got 2"}]
