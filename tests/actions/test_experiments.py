"""Running experiments as customers meet them: the arm changes the style, the greeting or
the products, every exposure and resolution is in PostgreSQL, and erasure takes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from actions.billing import ActionBillingHelp
from actions.conversation import TREATMENT_SLOT
from actions.feedback import ActionRecordCsat
from actions.recommendations import ActionRecommendProducts
from actions.session import ActionSessionStart
from personalization.experiments.assignment import Unit
from personalization.experiments.definition import Experiment, parse
from personalization.experiments.repository import ExperimentRepository
from personalization.privacy import erase_customer
from personalization.store import Database
from tests.actions.conftest import (
    fetch,
    journey_tracker,
    load_tracker,
    responses,
    run_action,
    slot_events,
)

pytestmark = pytest.mark.usefixtures("store_with_demo_shop")
STARTED = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
ALICE = "cust-0001"  # the token fixture's customer: a VIP who likes a casual tone
# Dev, proven on the journey fixture's conversation, with the slots session start set.
DEV = {
    "customer": "cust-0004",
    "customer_id": "cust-0004",
    "customer_name": "Dev",
    "customer_segment": "Loyal",
    "customer_tier": "regular",
}


def run_experiment(db: Database, factor: str, key: str, *settings: Any) -> Experiment:
    experiment = parse(
        {
            "name": f"{factor.replace('_', '-')}-test",
            "factor": factor,
            "starts": STARTED,
            "arms": [{"name": f"arm-{i}", key: value} for i, value in enumerate(settings)],
        }
    )
    ExperimentRepository(db).sync([experiment])
    return experiment


def test_a_fixed_style_arm_sets_the_style_in_the_customers_tone(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    run_experiment(
        store_with_demo_shop, "response_style", "style", "detailed_formal", "detailed_formal"
    )
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_customer_with_token"), domain
    )
    slots = slot_events(result)
    assert slots["response_style"] == "detailed_casual", "Alice's stated casual tone is kept"
    assert set(slots[TREATMENT_SLOT]["arms"]) == {"response-style-test"}
    exposure = fetch(
        store_with_demo_shop,
        "SELECT unit_id, customer_id, arm FROM experiment_exposures",
    )
    assert exposure == [
        {
            "unit_id": f"customer:{ALICE}",
            "customer_id": ALICE,
            "arm": slots[TREATMENT_SLOT]["arms"]["response-style-test"],
        }
    ]


def test_the_generic_arm_greets_a_known_customer_like_any_visitor(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    run_experiment(store_with_demo_shop, "personalization", "personalized", False, False)
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_customer_with_token"), domain
    )
    assert responses(result) == ["utter_welcome"]
    slots = slot_events(result)
    assert slots["customer_id"] == ALICE, "still signed in: orders and returns work"
    assert slots["customer_name"] is None and slots["personalization_allowed"] is False
    assert fetch(
        store_with_demo_shop, "SELECT personalization FROM consents WHERE customer_id = %s", ALICE
    ) != [{"personalization": False}], "the stored consent is untouched"


def test_the_popular_arm_shows_the_shops_best_sellers(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    experiment = run_experiment(
        store_with_demo_shop, "recommender", "recommender", "model", "popular"
    )
    for arm, expected in (
        ("arm-0", "utter_recommendations"),
        ("arm-1", "utter_recommendations_popular"),
    ):
        treatment = {
            "arms": {experiment.name: arm},
            "settings": {"recommender": experiment.arm(arm).setting},
        }
        tracker = journey_tracker(
            "gift ideas?", "ask_recommendation", **{TREATMENT_SLOT: treatment}
        )
        assert responses(run_action(ActionRecommendProducts(), tracker, domain)) == [expected]


def test_a_resolution_ends_the_time_to_resolution_of_the_exposure(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    experiment = run_experiment(
        store_with_demo_shop, "response_style", "style", "bandit", "concise_formal"
    )
    repository = ExperimentRepository(store_with_demo_shop)
    arm = repository.enrol(
        experiment, Unit.for_conversation("cust-0004", "conv-journey"), "conv-journey"
    )
    treatment = {"arms": {experiment.name: arm}, "settings": {}}
    result = run_action(
        ActionBillingHelp(),
        journey_tracker("card declined", "billing_problem", **DEV, **{TREATMENT_SLOT: treatment}),
        domain,
    )
    assert responses(result) == ["utter_billing_help", "utter_ask_helpful"]
    [row] = fetch(
        store_with_demo_shop,
        "SELECT resolved_at IS NOT NULL AS resolved "
        "FROM experiment_exposures WHERE conversation_id = 'conv-journey'",
    )
    assert row["resolved"] is True
    [outcome] = repository.outcomes(experiment.name)
    assert outcome.resolved and outcome.time_to_resolution_s is not None


def test_erasure_takes_the_customers_assignments_and_exposures(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    run_experiment(store_with_demo_shop, "response_style", "style", "bandit", "concise_formal")
    run_action(ActionSessionStart(), load_tracker("session_start_customer_with_token"), domain)
    anonymous = load_tracker("session_start_anonymous_visitor")
    run_action(ActionSessionStart(), anonymous, domain)
    assert len(fetch(store_with_demo_shop, "SELECT 1 FROM experiment_assignments")) == 2
    erase_customer(store_with_demo_shop, ALICE)
    left = fetch(store_with_demo_shop, "SELECT unit_id FROM experiment_assignments")
    assert left == [{"unit_id": f"conversation:{anonymous.sender_id}"}], "only the visitor"
    assert fetch(
        store_with_demo_shop,
        "SELECT count(*) AS n FROM experiment_exposures WHERE customer_id = %s",
        ALICE,
    ) == [{"n": 0}]


def test_no_experiment_or_a_store_outage_leaves_the_bandit_choosing(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    result = run_action(
        ActionSessionStart(), load_tracker("session_start_customer_with_token"), domain
    )
    slots = slot_events(result)
    assert slots[TREATMENT_SLOT] is None
    assert slots["response_style"] in ("concise_casual", "detailed_casual")


def test_feedback_in_a_fixed_style_arm_does_not_teach_the_bandit(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    def counts() -> list[dict[str, Any]]:
        return fetch(store_with_demo_shop, "SELECT * FROM style_bandit_arms ORDER BY 1, 2")

    fixed = {"arms": {"style-test": "fixed"}, "settings": {"style": "concise_formal"}}
    before = counts()
    run_action(
        ActionRecordCsat(),
        journey_tracker(
            '/rate{"csat":"5"}',
            "rate",
            entities=[{"entity": "csat", "value": "5"}],
            pending_question="csat",
            response_style="concise_formal",
            **{TREATMENT_SLOT: fixed},
        ),
        domain,
    )
    assert counts() == before, "the arm fixed the style; the bandit did not choose it"
    assert fetch(store_with_demo_shop, "SELECT kind, value, response_style FROM feedback") == [
        {"kind": "csat", "value": 5, "response_style": "concise_formal"}
    ], "the rating itself is stored"
    run_action(
        ActionRecordCsat(),
        journey_tracker(
            '/rate{"csat":"5"}',
            "rate",
            entities=[{"entity": "csat", "value": "5"}],
            pending_question="csat",
            response_style="concise_formal",
        ),
        domain,
    )
    assert counts() != before, "a style the bandit chose is rewarded"
