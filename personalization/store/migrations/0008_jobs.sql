-- Durable background work: erasure requests and what the retention job needs.
--
-- An erasure job is recorded by the chat or an operator and carried out by the worker
-- (`python -m personalization.jobs.worker`). While it is pending, running or failed it holds
-- the customer id it must erase; once done, only `subject`, a keyed hash of that id, remains,
-- with counts of what was deleted. The conversation ids stay until the last sweep of those
-- conversations (what Rasa saves after the erasing reply) and are then cleared too.

CREATE TABLE erasure_jobs (
    id                bigserial PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    customer_id       text,
    subject           text,
    conversation_ids  text[] NOT NULL DEFAULT '{}',
    source            text NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    sweeps_done       integer NOT NULL DEFAULT 0,
    sweep_after       timestamptz,
    result            jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_error        text,
    CHECK (status = 'done' OR customer_id IS NOT NULL),
    CHECK (status <> 'done' OR customer_id IS NULL)
);
CREATE INDEX erasure_jobs_due_idx ON erasure_jobs (next_attempt_at)
    WHERE status IN ('pending', 'running');
CREATE INDEX erasure_jobs_sweep_idx ON erasure_jobs (sweep_after) WHERE sweep_after IS NOT NULL;
CREATE INDEX erasure_jobs_customer_idx ON erasure_jobs (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX erasure_jobs_subject_idx ON erasure_jobs (subject) WHERE subject IS NOT NULL;

-- The counts of a finished erasure (never content) go with its audit entry.
ALTER TABLE consent_audit ADD COLUMN details jsonb;

-- An event row's JSON, or NULL when the row is not valid JSON: retention must not stop at a
-- single malformed row.
CREATE FUNCTION event_json(data text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN data::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;

-- When an event happened (Rasa's `timestamp`, seconds since the epoch), or NULL.
CREATE FUNCTION event_time(data text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN to_timestamp((data::jsonb ->> 'timestamp')::double precision);
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;
