-- The event pipeline: Rasa's own `events` table (the broker writes it; created here too so
-- the schema is known before the first event), where events that cannot be written are set
-- aside, and which conversations each customer ever had (for erasure).
-- Every statement is idempotent: the event broker applies this file itself on connect, so it
-- can start before the migrations have run.

-- Exactly the table Rasa's SQLEventBroker creates (rasa/core/brokers/sql.py).
CREATE TABLE IF NOT EXISTS events (
    id         SERIAL PRIMARY KEY,
    sender_id  VARCHAR(255),
    data       TEXT
);
CREATE INDEX IF NOT EXISTS events_sender_id_idx ON events (sender_id);

-- An event the broker could not write (a data error, never an outage), with why. `reason`
-- names the error only; `data` is the event as it would have been stored (already masked).
CREATE TABLE IF NOT EXISTS event_dead_letters (
    id         BIGSERIAL PRIMARY KEY,
    sender_id  TEXT,
    reason     TEXT NOT NULL,
    data       TEXT NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS event_dead_letters_failed_at_idx ON event_dead_letters (failed_at);

-- Every conversation in which a customer proved who they are, filled by the broker from the
-- `identity_proof` slot. No foreign key to customers: a row may arrive after an erasure (the
-- erasure job deletes it again) and must never make the event write fail.
CREATE TABLE IF NOT EXISTS customer_conversations (
    customer_id      TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    first_seen       TIMESTAMPTZ,
    last_seen        TIMESTAMPTZ,
    PRIMARY KEY (customer_id, conversation_id)
);
CREATE INDEX IF NOT EXISTS customer_conversations_conversation_idx
    ON customer_conversations (conversation_id);
