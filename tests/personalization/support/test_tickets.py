"""A ticket's summary quotes the customer, so it is stored masked."""

from __future__ import annotations

from personalization.store import Database
from personalization.support.tickets import TicketRepository, summarise


def test_the_summary_masks_personal_data_before_shortening() -> None:
    turns = [
        ("customer", "I'm jane@example.com, ring me on 07911 123456"),
        ("bot", "Thanks"),
        ("customer", "x " * 70 + "my card 4111 1111 1111 1111 was charged twice"),
    ]
    summary = summarise(turns)
    assert summary.splitlines()[0] == "customer: I'm [email], ring me on [phone]"
    assert "4111" not in summary, "a cut must never leave part of a number behind"


def test_a_stored_ticket_holds_no_personal_data(db: Database) -> None:
    summary = "customer: send it to 12 High Street, London SW1A 2AA, or mail jane@example.com"
    ticket = TicketRepository(db).open(None, "conv-9", "customer_request", "normal", summary, {})
    with db.cursor() as cur:
        cur.execute("SELECT summary FROM support_tickets WHERE id = %s", (ticket.id,))
        stored = cur.fetchone()["summary"]
    assert stored == "customer: send it to [address], London [postcode], or mail [email]"


def test_a_summary_with_nul_bytes_or_lone_surrogates_is_stored_not_refused(
    db: Database,
) -> None:
    """Clients can send both; PostgreSQL refuses both. They become U+FFFD."""
    ticket = TicketRepository(db).open(
        None,
        "conv-surrogate",
        "customer_request",
        "normal",
        "user: hi \ud800 there\x00 now",
        {"x": "\udfff", "said": ["a\x00b"]},
    )
    with db.cursor() as cur:
        cur.execute("SELECT summary, context FROM support_tickets WHERE id = %s", (ticket.id,))
        row = cur.fetchone()
    assert "hi \ufffd there\ufffd now" in row["summary"]
    assert row["context"] == {"x": "\ufffd", "said": ["a\ufffdb"]}
