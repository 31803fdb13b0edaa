"""Simulated conversations written where real ones are recorded, for a demo shop's insights.

A fresh demo has no conversations, so the insights page, the experiment report and the drift
check would have nothing to show. This writes plausible traffic for the shop's own customers
(the experiment simulator's hidden preferences decide ratings, thumbs, hand-offs and clicks)
through the real assignment of the running experiments: events, moods, feedback, tickets,
recommendation impressions and clicks, and the style bandit's counts. Every conversation id
starts with `sim-`, so it can be told apart and removed (`remove_traffic`).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from personalization.experiments.assignment import Unit
from personalization.experiments.repository import (
    ExperimentRepository,
    delete_unexposed_assignments,
)
from personalization.experiments.simulation import (
    SimulatedCustomer,
    conversation,
    load_population,
)
from personalization.store import Database
from personalization.support.bandit import STYLES, StyleBandit
from personalization.support.feedback import is_success

PREFIX = "sim-"
CHANNELS = (("socketio", 0.55), ("rest", 0.25), ("slack", 0.20))
INTENTS = (
    "order_status",
    "request_return",
    "ask_recommendation",
    "billing_problem",
    "ask_help",
    "greet",
    "thank",
)
# What customers of a home-goods shop ask that the bot was not trained for.
NOT_UNDERSTOOD = (
    "do you do gift wrapping",
    "can i change the delivery address",
    "is the shop open on sundays",
    "my voucher code does not work",
    "can i pay in instalments",
    "do you ship to norway",
    "the colour is not what the picture showed",
    "can i collect from the warehouse",
)
HANDOFF_REASONS = ("customer_request", "repeated_fallback", "late_order", "complaint")


def write_traffic(
    db: Database,
    conversations: int,
    days: int,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, int]:
    """Write ``conversations`` simulated conversations spread over the last ``days``."""
    rng = random.Random(seed)
    population = load_population(db, rng)
    repository = ExperimentRepository(db)
    running = repository.running()
    bandit = StyleBandit(db, rng)
    end = now or datetime.now(timezone.utc)
    counts = {"conversations": 0, "messages": 0, "feedback": 0, "tickets": 0, "shown": 0}
    products = _products(db)
    for n in range(conversations):
        started = end - timedelta(seconds=rng.uniform(60, days * 86400))
        conversation_id = f"{PREFIX}{seed}-{n}"
        customer = rng.choice(population) if rng.random() < 0.7 else None
        _write_one(
            db,
            rng,
            repository,
            running,
            bandit,
            products,
            conversation_id,
            customer,
            started,
            counts,
        )
        counts["conversations"] += 1
    return counts


def _write_one(
    db: Database,
    rng: random.Random,
    repository: ExperimentRepository,
    running: list[Any],
    bandit: StyleBandit,
    products: list[str],
    conversation_id: str,
    customer: SimulatedCustomer | None,
    started: datetime,
    counts: dict[str, int],
) -> None:
    channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
    unit = Unit.for_conversation(customer.customer_id if customer else None, conversation_id)
    style: str | None = None
    arm = "none"
    for experiment in running:
        arm = repository.enrol(experiment, unit, conversation_id)
        setting = experiment.arm(arm).setting
        if experiment.factor == "response_style" and setting != "bandit":
            style = str(setting)
    segment = customer.segment if customer else None
    learn = style is None  # an arm's fixed style teaches the bandit nothing
    style = style or bandit.choose(segment)
    stand_in = customer or SimulatedCustomer(
        conversation_id, "anonymous", 1, 0.0, rng.choice(STYLES)
    )
    outcome = conversation(stand_in, arm, style, 0.0, rng)
    customer_id = customer.customer_id if customer else None
    at = started
    with db.cursor() as cur:
        for _ in range(rng.randint(2, 6)):
            at += timedelta(seconds=rng.uniform(5, 90))
            cur.execute(
                "INSERT INTO events (sender_id, data) VALUES (%s, %s)",
                (conversation_id, json.dumps(_user_event(rng, at, channel))),
            )
            counts["messages"] += 1
            if customer_id:
                score = max(-1.0, min(1.0, rng.gauss(0.15 + stand_in.mood * 0.5, 0.35)))
                label = "negative" if score < -0.2 else "positive" if score > 0.3 else "neutral"
                cur.execute(
                    """INSERT INTO message_sentiment
                           (customer_id, conversation_id, score, label, created_at)
                       VALUES (%s, %s, %s, %s, %s)""",
                    (customer_id, conversation_id, score, label, at),
                )
        if customer_id:
            cur.execute(
                """INSERT INTO customer_conversations
                       (customer_id, conversation_id, first_seen, last_seen)
                   VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (customer_id, conversation_id, started, at),
            )
        cur.execute(
            """UPDATE experiment_exposures SET exposed_at = %s, resolved_at = %s
               WHERE conversation_id = %s""",
            (started, at if outcome.resolved else None, conversation_id),
        )
        feedback = []
        if outcome.thumbs_up is not None:
            feedback.append(("thumbs", 1 if outcome.thumbs_up else -1))
        if outcome.csat is not None:
            feedback.append(("csat", int(outcome.csat)))
        for kind, value in feedback:
            cur.execute(
                """INSERT INTO feedback
                       (customer_id, conversation_id, kind, value, response_style, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (customer_id, conversation_id, kind, value, style, at),
            )
            counts["feedback"] += 1
        if outcome.handed_off:
            cur.execute(
                """INSERT INTO support_tickets
                       (customer_id, conversation_id, reason, priority, summary, created_at,
                        updated_at)
                   VALUES (%s, %s, %s, %s, 'simulated conversation', %s, %s)""",
                (
                    customer_id,
                    conversation_id,
                    rng.choice(HANDOFF_REASONS),
                    rng.choice(("normal", "normal", "high")),
                    at,
                    at,
                ),
            )
            counts["tickets"] += 1
        if customer_id and products and outcome.recommendations_shown:
            _recommendations(cur, rng, products, customer_id, conversation_id, at, outcome)
            counts["shown"] += outcome.recommendations_shown
    for kind, value in feedback:
        success = is_success(kind, value)
        if learn and success is not None:
            bandit.reward(segment, style, success)


def _user_event(rng: random.Random, at: datetime, channel: str) -> dict[str, Any]:
    if rng.random() < 0.08:
        guess = rng.choice(INTENTS)
        confidence = rng.uniform(0.2, 0.55)
        text = rng.choice(NOT_UNDERSTOOD)
        intent = {"name": "nlu_fallback", "confidence": 0.7}
        ranking = [intent, {"name": guess, "confidence": confidence}]
    else:
        name = rng.choice(INTENTS)
        intent = {"name": name, "confidence": min(1.0, rng.betavariate(12, 1.2))}
        ranking = [intent]
        text = name.replace("_", " ")
    return {
        "event": "user",
        "timestamp": at.timestamp(),
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": intent, "intent_ranking": ranking, "entities": []},
    }


def _recommendations(
    cur: Any,
    rng: random.Random,
    products: list[str],
    customer_id: str,
    conversation_id: str,
    at: datetime,
    outcome: Any,
) -> None:
    shown = rng.sample(products, min(len(products), outcome.recommendations_shown))
    reasons = ("bought_before", "similar_customers", "best_seller", "country_popular")
    for code in shown:
        cur.execute(
            """INSERT INTO interactions (customer_id, kind, item_id, occurred_at, context)
               VALUES (%s, 'recommendation_shown', %s, %s,
                       jsonb_build_object('conversation_id', %s::text, 'reason', %s::text))""",
            (customer_id, code, at, conversation_id, rng.choice(reasons)),
        )
    for code in shown[: outcome.recommendations_clicked]:
        cur.execute(
            """INSERT INTO interactions (customer_id, kind, item_id, occurred_at, context)
               VALUES (%s, 'recommendation_clicked', %s, %s,
                       jsonb_build_object('conversation_id', %s::text))""",
            (customer_id, code, at, conversation_id),
        )


def _products(db: Database) -> list[str]:
    with db.cursor() as cur:
        cur.execute("SELECT stock_code FROM products ORDER BY stock_code LIMIT 200")
        return [r["stock_code"] for r in cur.fetchall()]


def has_traffic(db: Database) -> bool:
    with db.cursor() as cur:
        cur.execute("SELECT 1 FROM events WHERE sender_id LIKE %s LIMIT 1", (f"{PREFIX}%",))
        return cur.fetchone() is not None


def remove_traffic(db: Database) -> dict[str, int]:
    """Delete every simulated conversation's records, and the assignments left with no
    conversation (the bandit's counts stay learnt)."""
    removed: dict[str, int] = {}
    like = f"{PREFIX}%"
    with db.cursor() as cur:
        for table, column in (
            ("events", "sender_id"),
            ("message_sentiment", "conversation_id"),
            ("feedback", "conversation_id"),
            ("support_tickets", "conversation_id"),
            ("customer_conversations", "conversation_id"),
            ("experiment_exposures", "conversation_id"),
        ):
            cur.execute(f"DELETE FROM {table} WHERE {column} LIKE %s", (like,))
            removed[table] = cur.rowcount
        cur.execute("DELETE FROM interactions WHERE context ->> 'conversation_id' LIKE %s", (like,))
        removed["interactions"] = cur.rowcount
        removed["experiment_assignments"] = delete_unexposed_assignments(cur)
    return removed
