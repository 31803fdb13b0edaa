"""How often nonsense reaches the fallback, and how long a parse takes, for the bot's model.

Run:  .venv/bin/python -m benchmarks.fallback_probe [--model models/shopbot.tar.gz] [-n 300]

A classifier that is over-confident on text it has never seen makes the two-stage fallback
useless. This parses random letter strings (seeded, so runs compare) with the trained model
and prints the share classified as ``nlu_fallback``, and the parse latency.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import time


def gibberish(rng: random.Random) -> str:
    words = [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
        for _ in range(rng.randint(1, 5))
    ]
    return " ".join(words)


async def probe(model: str, count: int) -> tuple[int, list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    await agent.parse_message("warm up")
    rng = random.Random(7)
    fallbacks, latencies = 0, []
    for _ in range(count):
        started = time.perf_counter()
        parsed = await agent.parse_message(gibberish(rng))
        latencies.append((time.perf_counter() - started) * 1000)
        fallbacks += parsed["intent"]["name"] == "nlu_fallback"
    return fallbacks, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/shopbot.tar.gz")
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    fallbacks, latencies = asyncio.run(probe(args.model, args.n))
    latencies.sort()
    share = fallbacks / args.n
    print(f"{fallbacks} of {args.n} gibberish messages ({share:.0%}) reach the fallback")
    print(
        f"parse p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)]:.1f} ms"
    )


if __name__ == "__main__":
    main()
