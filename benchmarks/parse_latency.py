"""How long one NLU parse of a worst-case message takes, and how long it stalls the event loop.

Rasa parses every message on its event loop. While it parses, every other conversation on the
server waits; this benchmark measures that wait with a bystander coroutine that ticks every
10 ms and records how late each tick is, while messages of MAX_MESSAGE_CHARS characters are
parsed through Rasa's own ``Agent.parse_message``.

    .venv/bin/python -m benchmarks.parse_latency [--model models/shopbot.tar.gz]
        [--repeats 30] [--inline]

``--inline`` parses on the event loop, as stock Rasa does; by default the parse goes through
``channels.parsing`` (one worker thread, the loop stays free), as the running server does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
from collections.abc import Callable

import structlog

TICK_S = 0.010


def worst_case_messages(chars: int) -> dict[str, str]:
    """Inputs that are hard for tokenizers, featurizers and entity patterns, at the limit."""

    def fill(unit: str) -> str:
        return (unit * (chars // len(unit) + 1))[:chars]

    return {
        "one long word": "a" * chars,
        "one long number": "7" * chars,
        "letters and digits": fill("a1"),
        "emails": fill("alice.martin@example.com "),
        "almost emails": fill("x@"),
        "many tokens": fill("a "),
        "order numbers": fill("C123456 DEMO-2024-001 "),
        "prose": fill("where is my order, it was due on the 3rd of june and cost £24.99 "),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Bystander:
    """A coroutine that should wake every 10 ms; how late it wakes is how long the loop was
    held by someone else."""

    def __init__(self) -> None:
        self.max_lag_s = 0.0
        self._running = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running:
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            self.max_lag_s = max(self.max_lag_s, loop.time() - due)

    def stop(self) -> None:
        self._running = False


async def measure(
    parse: Callable[[str], object], messages: dict[str, str], repeats: int
) -> tuple[dict[str, list[float]], float]:
    """Parse times per kind of message, and the bystander's largest lag meanwhile."""
    times: dict[str, list[float]] = {name: [] for name in messages}
    bystander = Bystander()
    ticking = asyncio.create_task(bystander.run())
    await asyncio.sleep(0.05)
    for _ in range(repeats):
        for name, text in messages.items():
            started = time.perf_counter()
            await parse(text)  # type: ignore[misc]
            times[name].append(time.perf_counter() - started)
            await asyncio.sleep(0)
    bystander.stop()
    await ticking
    return times, bystander.max_lag_s


async def main_async(model: str, repeats: int, inline: bool, chars: int) -> None:
    from rasa.core.agent import load_agent

    from channels import parsing

    if not inline:
        parsing.install()
    agent = await load_agent(model_path=model)
    messages = worst_case_messages(chars)
    for text in messages.values():  # warm up: first calls build TensorFlow's graphs
        await agent.parse_message(text)
    times, max_lag = await measure(agent.parse_message, messages, repeats)
    mode = "on the event loop (stock Rasa)" if inline else "in the parse worker thread"
    print(f"parse of {chars}-character messages, {repeats} runs each, {mode}")
    print(f"{'message':<20} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    every: list[float] = []
    for name, values in times.items():
        every += values
        print(
            f"{name:<20} {statistics.median(values) * 1000:>10.1f} "
            f"{percentile(values, 0.99) * 1000:>8.1f} {max(values) * 1000:>8.1f}"
        )
    print(
        f"{'all':<20} {statistics.median(every) * 1000:>10.1f} "
        f"{percentile(every, 0.99) * 1000:>8.1f} {max(every) * 1000:>8.1f}"
    )
    print(f"bystander's largest event-loop stall: {max_lag * 1000:.1f} ms (ticks every 10 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parse_latency", description=__doc__)
    parser.add_argument("--model", default=os.path.join("models", "shopbot.tar.gz"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--inline", action="store_true", help="parse on the event loop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # Rasa's structured logger prints every parse, text included, at debug level by default.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main_async(args.model, args.repeats, args.inline, args.chars))


if __name__ == "__main__":
    main()
