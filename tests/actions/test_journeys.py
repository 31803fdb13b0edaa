"""Each journey's actions against the real database, with trackers from the JSON fixture."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from actions import personalization_client
from actions.billing import ActionBillingHelp
from actions.conversation import PROOF_SLOT
from actions.feedback import ActionRecordCsat
from actions.handoff import ActionDefaultFallback, ActionHandleComplaint, ActionHandoff
from actions.help_articles import ActionSuggestArticles
from actions.identify import ActionIdentifyCustomer
from actions.orders import ActionOrderStatus, ValidateOrderStatusForm, nice_date
from actions.privacy import ActionExportData, ActionOptIn, ActionOptOut
from actions.recommendations import ActionProductChosen, ActionRecommendProducts
from actions.returns import ActionSubmitReturn
from actions.yes_no import ActionAnswerYesNo
from personalization.demo_data import demo_order_id
from personalization.store import Database
from personalization.support.bandit import StyleBandit
from tests.actions.conftest import fetch, journey_tracker, responses, run_action, slot_events

pytestmark = pytest.mark.usefixtures("store_with_demo_shop")

# Dev, proven on this conversation, with the slots session start set for him.
DEV = {
    "customer": "cust-0004",
    "customer_id": "cust-0004",
    "customer_name": "Dev",
    "customer_segment": "Loyal",
    "customer_tier": "regular",
}


def latest_order(db: Database, customer_id: str, status: str | None = None) -> dict[str, Any]:
    rows = fetch(
        db,
        "SELECT id, status, total FROM orders WHERE customer_id = %s "
        "AND (%s::text IS NULL OR status = %s) ORDER BY ordered_at DESC LIMIT 1",
        customer_id,
        status,
        status,
    )
    return rows[0]


def test_a_shipped_order_is_answered_from_the_store_in_the_chosen_style(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    order = latest_order(store_with_demo_shop, "cust-0001", "shipped")
    result = run_action(ActionOrderStatus(), journey_tracker(order_number=order["id"]), domain)
    assert responses(result) == ["utter_order_shipped", "utter_ask_helpful"]
    assert result.messages[0]["order_id"] == order["id"]
    assert slot_events(result)["pending_question"] == "feedback"


def test_a_delivered_order_without_a_delivery_date_is_told_by_the_day_it_was_placed(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    [order] = fetch(
        store_with_demo_shop,
        "SELECT id, ordered_at::date AS ordered_on FROM orders WHERE customer_id = 'cust-0001' "
        "AND status = 'delivered' AND expected_delivery IS NULL ORDER BY ordered_at DESC LIMIT 1",
    )
    result = run_action(ActionOrderStatus(), journey_tracker(order_number=order["id"]), domain)
    assert responses(result) == ["utter_order_delivered_undated", "utter_ask_helpful"]
    placed = result.messages[0]["ordered_on"]
    assert str(order["ordered_on"].day) in placed
    assert order["ordered_on"].strftime("%B") in placed


def test_dates_name_the_year_only_when_it_is_not_this_one() -> None:
    this_year = date.today().year
    assert nice_date(date(this_year, 9, 15)).endswith(" 15 September")
    assert nice_date(date(this_year - 1, 12, 24)).endswith(f" 24 December {this_year - 1}")
    assert nice_date(None) == "soon"


def test_a_late_order_gets_a_bigger_gesture_for_an_upset_customer(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    order = latest_order(store_with_demo_shop, "cust-0004", "shipped")
    calm = run_action(ActionOrderStatus(), journey_tracker(order_number=order["id"], **DEV), domain)
    assert responses(calm)[:2] == ["utter_order_late", "utter_late_voucher"]
    assert "utter_handoff_done" not in responses(calm)
    upset = run_action(
        ActionOrderStatus(),
        journey_tracker(order_number=order["id"], sender_id="conv-upset", mood=-0.6, **DEV),
        domain,
    )
    assert responses(upset)[:3] == ["utter_order_late", "utter_late_voucher", "utter_handoff_done"]
    voucher = lambda r: float(r.messages[1]["voucher"].lstrip("£"))  # noqa: E731
    assert voucher(upset) > voucher(calm)
    [ticket] = fetch(
        store_with_demo_shop,
        "SELECT reason, priority, customer_id, summary FROM support_tickets "
        "WHERE conversation_id = 'conv-upset'",
    )
    assert (ticket["reason"], ticket["customer_id"]) == ("late_order", "cust-0004")
    assert "customer: hello" in ticket["summary"]


def test_an_order_of_another_customer_is_not_found(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    other = latest_order(store_with_demo_shop, "cust-0002")
    result = run_action(
        ValidateOrderStatusForm(),
        journey_tracker(
            text=other["id"],
            intent="inform",
            entities=[{"entity": "order_number", "value": other["id"]}],
            requested_slot="order_number",
        ),
        domain,
    )
    assert responses(result)[0] == "utter_order_not_found"
    assert slot_events(result)["order_number"] is None


def by_date(phrase: str, domain: dict[str, Any]) -> Any:
    """The order form's validation on "the order I placed <phrase>", the date as the
    RegexEntityExtractor finds it."""
    tracker = journey_tracker(
        text=f"where is the order I placed {phrase}",
        intent="order_status",
        entities=[{"entity": "date", "value": phrase}],
        open_orders=[],
    )
    return run_action(ValidateOrderStatusForm(), tracker, domain)


def test_an_order_is_found_by_the_day_it_was_placed(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    [alone] = fetch(
        store_with_demo_shop,
        """SELECT o.id, o.ordered_at::date AS day FROM orders o
           WHERE o.customer_id = 'cust-0001' AND NOT EXISTS (
               SELECT 1 FROM orders n WHERE n.customer_id = o.customer_id AND n.id <> o.id
               AND abs(n.ordered_at::date - o.ordered_at::date) <= 1)
           ORDER BY o.ordered_at DESC LIMIT 1""",
    )
    day = alone["day"]
    result = by_date(f"{day.day} {day:%B %Y}", domain)
    assert responses(result) == []
    assert slot_events(result)["order_number"] == alone["id"]

    def add_order(order_id: str, later: str) -> None:
        with store_with_demo_shop.cursor() as cur:
            cur.execute(
                """INSERT INTO orders (id, customer_id, ordered_at, status, total)
                   SELECT %s, customer_id, date_trunc('day', ordered_at) + %s::interval,
                          'placed', 9
                   FROM orders WHERE id = %s""",
                (order_id, later, alone["id"]),
            )

    next_day, same_day = demo_order_id("cust-0001", 98), demo_order_id("cust-0001", 99)
    add_order(next_day, "1 day 12 hours")  # the next day: in the window, not on the day
    again = by_date(day.isoformat(), domain)
    assert slot_events(again)["order_number"] == alone["id"], "the order on the day named"

    add_order(same_day, "23 hours")
    two = by_date(day.isoformat(), domain)
    assert responses(two) == ["utter_orders_on_date"]
    assert two.messages[0]["count"] == "3"
    assert {b["payload"] for b in two.messages[0]["buttons"]} == {
        f'/inform{{"order_number":"{i}"}}' for i in (alone["id"], next_day, same_day)
    }
    assert "order_number" not in slot_events(two), "the customer picks one"


def test_a_day_without_orders_is_said_with_the_latest_orders_to_pick_from(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    [first] = fetch(
        store_with_demo_shop,
        "SELECT min(ordered_at)::date AS day FROM orders WHERE customer_id = 'cust-0001'",
    )
    before = first["day"].replace(year=first["day"].year - 1)
    result = by_date(before.isoformat(), domain)
    assert responses(result) == ["utter_no_order_on_date"]
    assert result.messages[0]["when"] == f"around {before:%A %-d %B}"
    offered = result.messages[0]["buttons"]
    assert len(offered) == 4 and all(" · " in b["title"] for b in offered)  # date · items
    assert "order_number" not in slot_events(result)


def test_a_return_is_recorded_under_the_segment_policy(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    order = fetch(
        store_with_demo_shop,
        "SELECT o.id, l.stock_code, l.quantity * l.unit_price AS value FROM orders o "
        "JOIN order_lines l ON l.order_id = o.id WHERE o.customer_id = 'cust-0001' "
        "AND o.status = 'delivered' ORDER BY o.ordered_at DESC, l.line_no LIMIT 1",
    )[0]
    tracker = journey_tracker(order_number=order["id"], return_item=order["stock_code"])
    result = run_action(ActionSubmitReturn(), tracker, domain)
    assert responses(result)[:2] == ["utter_return_accepted", "utter_return_free_collection"]
    assert result.messages[0]["window_days"] == "60"
    [row] = fetch(
        store_with_demo_shop,
        "SELECT stock_code, refund, free_collection FROM return_requests WHERE order_id = %s",
        order["id"],
    )
    assert (row["stock_code"], float(row["refund"]), row["free_collection"]) == (
        order["stock_code"],
        float(order["value"]),
        True,
    )
    again = run_action(ActionSubmitReturn(), tracker, domain)
    assert responses(again)[0] == "utter_return_already_requested"


def test_an_angry_billing_complaint_is_offered_a_person_and_ends_in_a_ticket(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    angry = dict(mood=-0.7, mood_label="negative", **DEV)
    result = run_action(
        ActionBillingHelp(),
        journey_tracker("you charged me twice!!", "billing_problem", **angry),
        domain,
    )
    assert responses(result) == ["utter_billing_compassionate", "utter_offer_human"]
    slots = slot_events(result)
    assert slots["pending_question"] == "handoff"
    yes = run_action(
        ActionAnswerYesNo(),
        journey_tracker("yes please", "affirm", **angry, **slots),
        domain,
    )
    assert responses(yes) == ["utter_handoff_done"]
    [ticket] = fetch(
        store_with_demo_shop,
        "SELECT reason, priority, context FROM support_tickets WHERE conversation_id = %s",
        "conv-journey",
    )
    assert ticket["reason"] == "billing_distress"
    assert ticket["priority"] == "urgent"
    assert ticket["context"]["segment"] == "Loyal"


def test_a_calm_billing_question_gets_help_and_a_feedback_question(domain: dict[str, Any]) -> None:
    result = run_action(
        ActionBillingHelp(), journey_tracker("card declined", "billing_problem", **DEV), domain
    )
    assert responses(result) == ["utter_billing_help", "utter_ask_helpful"]


def test_a_vip_with_a_complaint_is_handed_over_at_once(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    result = run_action(
        ActionHandleComplaint(), journey_tracker("awful", "complain", sender_id="conv-vip"), domain
    )
    assert responses(result) == ["utter_complaint_sorry", "utter_handoff_done"]
    assert fetch(
        store_with_demo_shop,
        "SELECT reason FROM support_tickets WHERE conversation_id = 'conv-vip'",
    ) == [{"reason": "vip_problem"}]


def test_explicit_request_and_repeated_fallback_open_one_ticket_per_conversation(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    first = run_action(ActionHandoff(), journey_tracker(sender_id="conv-twice"), domain)
    second = run_action(ActionDefaultFallback(), journey_tracker(sender_id="conv-twice"), domain)
    assert responses(first) == ["utter_handoff_done"]
    assert responses(second) == ["utter_default", "utter_handoff_done"]
    assert first.messages[0]["ticket_id"] == second.messages[1]["ticket_id"]
    assert second.events[-1]["event"] == "rewind"


def fixture_style_counts(db: Database) -> Any:
    """The bandit's counts for the fixture customer's segment and response style."""
    return StyleBandit(db).counts("Champions")["detailed_casual"]


def test_feedback_is_stored_and_moves_the_bandit(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    before = fixture_style_counts(store_with_demo_shop)
    thumbs = run_action(
        ActionAnswerYesNo(), journey_tracker("yes", "affirm", pending_question="feedback"), domain
    )
    assert responses(thumbs) == ["utter_thumbs_up", "utter_ask_csat"]
    csat = run_action(
        ActionRecordCsat(),
        journey_tracker(
            "2", "rate", entities=[{"entity": "csat", "value": "2"}], pending_question="csat"
        ),
        domain,
    )
    assert responses(csat) == ["utter_csat_thanks"]
    after = fixture_style_counts(store_with_demo_shop)
    assert (after.successes, after.failures) == (before.successes + 1, before.failures + 1)
    rows = fetch(
        store_with_demo_shop,
        "SELECT kind, value, response_style FROM feedback WHERE customer_id = 'cust-0001' "
        "ORDER BY id",
    )
    assert rows == [
        {"kind": "thumbs", "value": 1, "response_style": "detailed_casual"},
        {"kind": "csat", "value": 2, "response_style": "detailed_casual"},
    ]


def test_a_bare_number_nobody_asked_for_is_not_stored_as_a_rating(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    before = fixture_style_counts(store_with_demo_shop)
    typed = run_action(
        ActionRecordCsat(),
        journey_tracker("2", "rate", entities=[{"entity": "csat", "value": "2"}]),
        domain,
    )
    assert responses(typed) == ["utter_number_unclear"]
    assert typed.events == []
    said = run_action(
        ActionRecordCsat(),
        journey_tracker("2 out of 5", "rate", entities=[{"entity": "csat", "value": "2"}]),
        domain,
    )
    assert responses(said) == ["utter_csat_thanks"]
    rows = fetch(store_with_demo_shop, "SELECT value FROM feedback WHERE kind = 'csat'")
    assert rows == [{"value": 2}]
    after = fixture_style_counts(store_with_demo_shop)
    assert after.failures == before.failures + 1


def test_recommendations_are_shown_with_buttons_and_clicks_recorded(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    shown = run_action(
        ActionRecommendProducts(), journey_tracker("gift ideas?", "ask_recommendation"), domain
    )
    assert responses(shown) == ["utter_recommendations"]
    buttons = shown.messages[0]["buttons"]
    assert len(buttons) == 4 and all("/choose_product" in b["payload"] for b in buttons)
    codes = slot_events(shown)["shown_products"]
    clicked = run_action(
        ActionProductChosen(),
        journey_tracker(
            "/choose_product",
            "choose_product",
            entities=[{"entity": "product", "value": codes[0]}],
            shown_products=codes,
        ),
        domain,
    )
    assert responses(clicked) == ["utter_product_details"]
    kinds = fetch(
        store_with_demo_shop,
        "SELECT kind, count(*) AS n FROM interactions WHERE customer_id = 'cust-0001' "
        "AND kind LIKE 'recommendation%%' GROUP BY kind ORDER BY kind",
    )
    assert kinds == [
        {"kind": "recommendation_clicked", "n": 1},
        {"kind": "recommendation_shown", "n": 4},
    ]
    reasons = fetch(
        store_with_demo_shop,
        "SELECT DISTINCT context ->> 'reason' AS reason FROM interactions "
        "WHERE kind = 'recommendation_shown'",
    )
    assert {r["reason"] for r in reasons} <= {
        "stated_interest",
        "bought_before",
        "similar_customers",
        "country_popular",
        "best_seller",
    } and reasons, "each impression keeps why it was shown, for the insights page"


def test_the_web_chat_gets_cards_with_name_price_and_why(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    tracker = journey_tracker("gift ideas?", "ask_recommendation", channel="socketio")
    shown = run_action(ActionRecommendProducts(), tracker, domain)
    [message] = shown.messages
    assert message["response"] == "utter_recommendations" and not message.get("buttons")
    cards = message["custom"]["data"]["cards"]
    assert [c["id"] for c in cards] == slot_events(shown)["shown_products"]
    for card in cards:
        assert card["name"] and card["price"].startswith("£") and card["why"]
        assert card["payload"] == f'/choose_product{{"product":"{card["id"]}"}}'


def test_a_new_customer_is_asked_first_and_the_answers_are_used_at_once(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    chloe = {
        "customer": "cust-0003",
        "customer_id": "cust-0003",
        "customer_segment": "New",
        "customer_tier": "new",
    }
    first = run_action(
        ActionRecommendProducts(),
        journey_tracker("gift ideas?", "ask_recommendation", needs_onboarding=True, **chloe),
        domain,
    )
    assert first.events == [{"event": "followup", "name": "onboarding_form", "timestamp": None}]
    after = run_action(
        ActionRecommendProducts(),
        journey_tracker(
            "£10", "inform", needs_onboarding=True, interest="Kitchen", budget=10.0, **chloe
        ),
        domain,
    )
    items = after.messages[0]["buttons"]
    assert all("£" in b["title"] for b in items)
    [prefs] = fetch(
        store_with_demo_shop, "SELECT preferences FROM customers WHERE id = 'cust-0003'"
    )
    assert prefs["preferences"]["interests"] == ["Kitchen"]
    assert prefs["preferences"]["budget"] == 10.0
    codes = slot_events(after)["shown_products"]
    available = fetch(
        store_with_demo_shop,
        "SELECT stock_code FROM products WHERE category = 'Kitchen' AND unit_price <= 10",
    )
    fitting = {r["stock_code"] for r in available}
    expected = min(len(codes), len(fitting))
    assert expected >= 1
    assert set(codes[:expected]) <= fitting  # every fitting product comes first


def test_help_articles_then_a_vote_that_is_stored(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    personalization_client.warm_up_now()  # as the action server does when it starts
    result = run_action(
        ActionSuggestArticles(),
        journey_tracker("can I change my delivery address after ordering?", "ask_help"),
        domain,
    )
    assert responses(result)[0] == "utter_article"
    assert responses(result)[-1] == "utter_ask_article_helpful"
    slots = slot_events(result)
    vote = run_action(ActionAnswerYesNo(), journey_tracker("no", "deny", **slots), domain)
    assert responses(vote) == ["utter_sorry_not_helpful", "utter_offer_human"]
    [row] = fetch(
        store_with_demo_shop,
        "SELECT item_id, context->>'helpful' AS helpful FROM interactions "
        "WHERE customer_id = 'cust-0001' AND kind = 'article_opened'",
    )
    assert row == {"item_id": slots["suggested_article"], "helpful": "false"}


def test_opt_out_is_audited_and_stops_recording(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    out = run_action(ActionOptOut(), journey_tracker("stop personalizing", "opt_out"), domain)
    assert responses(out) == ["utter_opted_out"]
    slots = slot_events(out)
    assert slots["personalization_allowed"] is False and slots["customer_name"] is None
    generic = run_action(
        ActionRecommendProducts(),
        journey_tracker("ideas?", "ask_recommendation", **slots),
        domain,
    )
    assert responses(generic) == ["utter_recommendations_popular"]
    assert fetch(
        store_with_demo_shop,
        "SELECT count(*) AS n FROM interactions WHERE customer_id = 'cust-0001' "
        "AND kind = 'recommendation_shown'",
    ) == [{"n": 0}]
    # The conversation's proof is kept as it was (opt-out clearing it is a known bug, see
    # test_opting_out_keeps_the_customer_signed_in below).
    still_proven = {k: v for k, v in slots.items() if k != PROOF_SLOT}
    back = run_action(ActionOptIn(), journey_tracker("opt in", "opt_in", **still_proven), domain)
    assert responses(back) == ["utter_opted_in"]
    assert slot_events(back)["personalization_allowed"] is True
    audit = fetch(
        store_with_demo_shop,
        "SELECT action, source FROM consent_audit WHERE customer_id = 'cust-0001' ORDER BY id",
    )
    assert audit == [
        {"action": "opt_out", "source": "chat"},
        {"action": "opt_in", "source": "chat"},
    ]


def test_what_do_you_know_about_me_is_readable(domain: dict[str, Any]) -> None:
    result = run_action(ActionExportData(), journey_tracker("my data?", "ask_my_data"), domain)
    summary = result.messages[0]["summary"]
    assert "Name: Alice" in summary and "Orders: 14" in summary
    assert "Customer group: Champions" in summary


def test_deletion_needs_a_yes_and_then_records_the_request(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    """The chat records the erasure and answers truthfully; the worker carries it out (its
    own tests check that the data goes)."""
    no = run_action(
        ActionAnswerYesNo(), journey_tracker("no", "deny", pending_question="erase"), domain
    )
    assert responses(no) == ["utter_erase_cancelled"]
    assert fetch(store_with_demo_shop, "SELECT id FROM erasure_jobs") == []
    yes = run_action(
        ActionAnswerYesNo(), journey_tracker("yes", "affirm", pending_question="erase"), domain
    )
    assert responses(yes)[0] in ("utter_erased", "utter_erasure_pending")
    [job] = fetch(store_with_demo_shop, "SELECT customer_id, status FROM erasure_jobs")
    assert job["status"] == "done" or job["customer_id"] == "cust-0001"


def test_opting_out_keeps_the_customer_signed_in(domain: dict[str, Any]) -> None:
    out = run_action(ActionOptOut(), journey_tracker("stop personalizing", "opt_out"), domain)
    assert PROOF_SLOT not in slot_events(out), "opting out is no reason to sign out"
    back = run_action(
        ActionOptIn(), journey_tracker("opt in", "opt_in", **slot_events(out)), domain
    )
    assert responses(back) == ["utter_opted_in"]


def test_a_visitor_identifies_with_email_and_order_number(
    store_with_demo_shop: Database, domain: dict[str, Any]
) -> None:
    order = latest_order(store_with_demo_shop, "cust-0004")
    [email] = fetch(store_with_demo_shop, "SELECT email FROM customers WHERE id = 'cust-0004'")
    visitor = dict(who="anonymous", customer_id=None, customer_known=False, customer_tier=None)
    alices = demo_order_id("cust-0001", 1)  # a real order, but someone else's
    assert fetch(store_with_demo_shop, "SELECT id FROM orders WHERE id = %s", alices)
    wrong = run_action(
        ActionIdentifyCustomer(),
        journey_tracker(identity=email["email"], verification_order=alices, **visitor),
        domain,
    )
    assert responses(wrong) == ["utter_identify_failed"]
    assert PROOF_SLOT not in slot_events(wrong)
    right = run_action(
        ActionIdentifyCustomer(),
        journey_tracker(identity=email["email"], verification_order=order["id"], **visitor),
        domain,
    )
    slots = slot_events(right)
    assert (slots["customer_id"], slots["customer_known"]) == ("cust-0004", True)
    assert slots[PROOF_SLOT]["customer_id"] == "cust-0004"
    assert responses(right)[0].startswith("utter_welcome_back_")
    attempts = fetch(
        store_with_demo_shop,
        "SELECT outcome, customer_id, conversation_id FROM sign_in_attempts ORDER BY id",
    )
    assert attempts == [
        {"outcome": "failure", "customer_id": None, "conversation_id": "conv-journey"},
        {"outcome": "success", "customer_id": "cust-0004", "conversation_id": "conv-journey"},
    ]


def test_a_falling_mood_outside_a_problem_journey_brings_an_offer_of_a_person(
    domain: dict[str, Any],
) -> None:
    from actions.mood import ActionValidateSlotMappings

    def turn(text: str, intent: str, score: float, **slots: Any) -> Any:
        tracker = journey_tracker(text, intent, **slots)
        tracker.latest_message["sentiment"] = {"score": score, "label": "negative"}
        return run_action(ActionValidateSlotMappings(), tracker, domain)

    calm = dict(mood=0.4, mood_slow=0.4, mood_messages=3.0, mood_trend="steady")
    falling = turn("you are useless, this is a waste of time", "bot_challenge", -0.9, **calm)
    assert responses(falling) == ["utter_offer_human_mood"]
    slots = slot_events(falling)
    assert slots["mood_trend"] == "worsening" and slots["pending_question"] == "handoff"
    assert slots["mood_offered_at"] == slots["mood"]
    again = turn("still useless", "bot_challenge", -0.9, **{**calm, **slots})
    assert responses(again) == [], "not over an offer still open"
    in_a_journey = turn("you charged me twice!", "billing_problem", -0.9, **calm)
    assert responses(in_a_journey) == [], "billing applies the rules itself"
    yes = run_action(ActionAnswerYesNo(), journey_tracker("yes", "affirm", **slots), domain)
    assert responses(yes) == ["utter_handoff_done"]


def test_a_declined_mood_offer_is_repeated_only_after_a_clear_further_fall(
    domain: dict[str, Any],
) -> None:
    from actions.mood import ActionValidateSlotMappings

    def turn(score: float, **slots: Any) -> tuple[list[str], dict[str, Any]]:
        tracker = journey_tracker("this is hopeless", "bot_challenge", **slots)
        tracker.latest_message["sentiment"] = {"score": score, "label": "negative"}
        events = run_action(ActionValidateSlotMappings(), tracker, domain)
        return responses(events), {**slots, **slot_events(events)}

    calm = dict(mood=0.4, mood_slow=0.4, mood_messages=3.0, mood_trend="steady")
    said, slots = turn(-0.9, **calm)
    assert said == ["utter_offer_human_mood"]
    no = run_action(ActionAnswerYesNo(), journey_tracker("no", "deny", **slots), domain)
    assert responses(no) == ["utter_handoff_declined"]
    slots.update(slot_events(no))
    assert slots["pending_question"] is None and slots["escalation_reason"] is None
    offered_at = slots["mood_offered_at"]

    said, slots = turn(-0.2, **slots)
    assert said == [], "a milder message after the no: no new offer"
    for _ in range(10):
        if slots["mood"] <= offered_at - 0.3:
            break
        assert said == [], f"offered again at {slots['mood']} (first offer at {offered_at})"
        said, slots = turn(-1.0, **slots)
    assert said == ["utter_offer_human_mood_again"]
    assert slots["mood_offered_at"] == slots["mood"] <= offered_at - 0.3
    assert slots["escalation_reason"] == "worsening_mood"
