"""NLU parsing off Rasa's event loop, in one dedicated worker thread.

Rasa 3.6 runs the NLU graph synchronously inside ``MessageProcessor.parse_message``, on the
event loop that serves every conversation: while one message is parsed, nobody else is
answered. ``install()`` replaces that method with one that runs the same graph in a single
worker thread, so the loop keeps serving while a message is parsed. One thread, not a pool:
the pipeline's components were written for one caller at a time, and parses stay in order.

The channels install it when Rasa builds their routes (before the first message); calling it
again does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

log = logging.getLogger(__name__)

_worker: ThreadPoolExecutor | None = None
_installed = False
_install_lock = threading.Lock()
_stock_parse_message = MessageProcessor.parse_message


def _parse_worker() -> ThreadPoolExecutor:
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-parse")
    return _worker


async def parse_message_off_loop(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """Rasa's ``parse_message``, with the graph run in the parse worker thread.

    Unlike Rasa's, it does not log the parse result at debug level: that holds the text.
    """
    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        loop = asyncio.get_running_loop()
        parse_data = await loop.run_in_executor(
            _parse_worker(),
            self._parse_message_with_graph,
            message,
            tracker,
            only_output_properties,
        )
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


def install() -> None:
    """Make every ``MessageProcessor`` of this process parse off the event loop."""
    global _installed
    with _install_lock:
        if _installed:
            return
        MessageProcessor.parse_message = parse_message_off_loop  # type: ignore[method-assign]
        _installed = True
    log.info("NLU parsing runs in a worker thread, off the event loop")


def installed() -> bool:
    return MessageProcessor.parse_message is parse_message_off_loop


def uninstall() -> None:
    """Rasa's own parsing back (for comparisons and tests)."""
    global _installed
    with _install_lock:
        MessageProcessor.parse_message = _stock_parse_message  # type: ignore[method-assign]
        _installed = False
