"""Where one message's time goes, stage by stage, in the bot's own Rasa agent.

`python -m benchmarks.message_profile` starts an isolated stack (its own PostgreSQL, Redis and
action server, as `make run` has them), loads the trained model into a Rasa agent in this
process with the stack's endpoints.yml (Redis tracker and lock stores, the SQL broker, the
action server), and sends it messages one at a time, as the REST channel would. Each stage is
timed where Rasa calls it:

- every NLU component's ``process`` (tokeniser, count vectors, MiniLM, sentiment, intent
  classifier, entity extraction, fallback), and the parse as a whole;
- the policies (memoization, rules) and the prediction as a whole;
- tracker load and save, the lock, the event broker;
- each call to the action server, by action, and Rasa's check of its answer.

It prints the median milliseconds per message of each stage, for short conversations (the
REST benchmark's five messages, a new conversation every five) and for turns 281-300 of one
300-turn conversation. A stage's time includes the stages inside it (the parse includes
MiniLM). Medians over messages; run it a few times and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.reliability_stack import PROJECT_ROOT, IsolatedStack

SCRIPT = ("hello", "I am sad", "yes", "great", "bye")
MODEL = PROJECT_ROOT / "models" / "shopbot.tar.gz"


class StageClock:
    """Seconds spent in each wrapped call during the current message."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.messages: list[dict[str, float]] = []

    def wrap(self, owner: type, attr: str, label: str | Callable[..., str]) -> None:
        original = getattr(owner, attr)
        clock = self

        def name_of(args: tuple[Any, ...]) -> str:
            return label(*args) if callable(label) else label

        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    clock.current[name_of(args)] += time.perf_counter() - started

            setattr(owner, attr, timed_async)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    clock.current[name_of(args)] += time.perf_counter() - started

            setattr(owner, attr, timed)

    def next_message(self, total_s: float) -> None:
        self.current["total (handle_message)"] = total_s
        self.messages.append(dict(self.current))
        self.current.clear()

    def medians_ms(self, messages: list[dict[str, float]]) -> dict[str, float]:
        names = {name for message in messages for name in message}
        return {
            name: statistics.median(m.get(name, 0.0) for m in messages) * 1000 for name in names
        }


def instrument(clock: StageClock) -> None:
    """Wrap the stages where Rasa calls them."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.processor import MessageProcessor
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.nlu.extractors.entity_synonyms import EntitySynonymMapper
    from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    from brokers.sql import ResilientSQLEventBroker
    from components.leading_pleasantry import LeadingPleasantryRemover, LeadingPleasantryRestorer
    from components.linear_intent_classifier import LinearIntentClassifier
    from components.sentence_embeddings import MiniLmFeaturizer
    from components.sentiment import SentimentAnalyzer
    from stores.redis import TimeoutRedisLockStore, TimeoutRedisTrackerStore

    nlu = {
        "nlu: pleasantry set aside": LeadingPleasantryRemover,
        "nlu: whitespace tokeniser": WhitespaceTokenizer,
        "nlu: count vectors": CountVectorsFeaturizer,
        "nlu: MiniLM": MiniLmFeaturizer,
        "nlu: sentiment": SentimentAnalyzer,
        "nlu: intent classifier": LinearIntentClassifier,
        "nlu: regex entities": RegexEntityExtractor,
        "nlu: synonyms": EntitySynonymMapper,
        "nlu: fallback": FallbackClassifier,
        "nlu: pleasantry restored": LeadingPleasantryRestorer,
    }
    for label, component in nlu.items():
        clock.wrap(component, "process", label)
    clock.wrap(MessageProcessor, "parse_message", "parse (all NLU)")
    clock.wrap(MemoizationPolicy, "predict_action_probabilities", "policy: memoization")
    clock.wrap(RulePolicy, "predict_action_probabilities", "policy: rules")
    clock.wrap(MessageProcessor, "_predict_next_with_tracker", "prediction (all policies)")
    clock.wrap(TimeoutRedisTrackerStore, "retrieve", "tracker: load")
    clock.wrap(TimeoutRedisTrackerStore, "save", "tracker: save (and stream events)")
    clock.wrap(ResilientSQLEventBroker, "publish", "broker: publish")
    clock.wrap(TimeoutRedisLockStore, "issue_ticket", "lock: issue ticket")
    clock.wrap(TimeoutRedisLockStore, "_acquire_lock", "lock: acquire")
    clock.wrap(TimeoutRedisLockStore, "cleanup", "lock: release")
    clock.wrap(RemoteAction, "run", lambda action, *_: f"action server: {action.name()}")
    clock.wrap(RemoteAction, "run", "action server (all calls)")
    clock.wrap(RemoteAction, "_action_call_format", "action call: tracker + domain as JSON")
    clock.wrap(RemoteAction, "_validate_action_result", "action call: check the answer")


async def converse(clock: StageClock, short_conversations: int, long_turns: int) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    agent = await load_agent(model_path=str(MODEL), endpoints=endpoints)

    async def send(sender: str, text: str) -> None:
        started = time.perf_counter()
        await agent.handle_message(UserMessage(text, sender_id=sender))
        clock.next_message(time.perf_counter() - started)

    for text in SCRIPT:  # warm-up: models loaded, connections open
        await send("warm-up", text)
    clock.messages.clear()
    for n in range(short_conversations):
        sender = f"profile-{uuid.uuid4().hex[:8]}-{n}"
        for text in SCRIPT:
            await send(sender, text)
    short = list(clock.messages)
    clock.messages.clear()
    sender = f"profile-long-{uuid.uuid4().hex[:8]}"
    for turn in range(long_turns):
        await send(sender, SCRIPT[turn % len(SCRIPT)])
    long = list(clock.messages)
    report(clock, short, long[:20], long[-20:])


def report(
    clock: StageClock,
    short: list[dict[str, float]],
    first: list[dict[str, float]],
    last: list[dict[str, float]],
) -> None:
    columns = [
        ("short convs", clock.medians_ms(short)),
        ("long: turns 1-20", clock.medians_ms(first)),
        ("long: last 20", clock.medians_ms(last)),
    ]
    names = sorted({n for _, medians in columns for n in medians}, key=_order)
    print(
        f"median ms per message ({len(short)} short-conversation messages, "
        f"{len(first)} + {len(last)} long-conversation turns)\n"
    )
    print("| stage | " + " | ".join(title for title, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in names:
        cells = " | ".join(f"{medians.get(name, 0.0):.1f}" for _, medians in columns)
        print(f"| {name} | {cells} |")


def _order(name: str) -> tuple[int, str]:
    prefixes = (
        "total",
        "lock",
        "tracker: load",
        "parse",
        "nlu",
        "prediction",
        "policy",
        "action server",
        "action call",
        "tracker: save",
        "broker",
    )
    for rank, prefix in enumerate(prefixes):
        if name.startswith(prefix):
            return rank, name
    return len(prefixes), name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.message_profile")
    parser.add_argument("--conversations", type=int, default=12, help="short conversations")
    parser.add_argument("--long-turns", type=int, default=300)
    parser.add_argument(
        "--stock-validation",
        action="store_true",
        help="check action answers as Rasa 3.6 does (the 'before' figure)",
    )
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"error: no trained model at {MODEL}; run `make train`", file=sys.stderr)
        return 1
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="message-profile-") as data:
        stack = IsolatedStack(Path(data)).start()
        try:
            from stack import action_calls, action_results, environment, event_types

            os.environ.update(environment.resolve(stack.env()).values)
            os.environ["DEMO_MODE"] = "1"
            if not args.stock_validation:
                action_results.install()
                event_types.install()
            action_calls.install()
            clock = StageClock()
            instrument(clock)
            asyncio.run(converse(clock, args.conversations, args.long_turns))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
