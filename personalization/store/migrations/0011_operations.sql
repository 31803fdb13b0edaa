-- Snapshots the drift check compares recent weeks with, and the record of each import (its
-- rejects by reason and the missing fields), which the insights page shows.

CREATE TABLE drift_references (
    id           bigserial PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    window_from  timestamptz NOT NULL,
    window_to    timestamptz NOT NULL,
    reason       text NOT NULL,
    samples      jsonb NOT NULL
);

CREATE TABLE import_runs (
    id               bigserial PRIMARY KEY,
    source           text NOT NULL,
    finished_at      timestamptz NOT NULL DEFAULT now(),
    rows_read        integer NOT NULL,
    rows_imported    integer NOT NULL,
    rejected         jsonb NOT NULL,
    missing_fields   jsonb NOT NULL
);

-- The insights page and the drift check read the events of a period; event_time is
-- IMMUTABLE, so the period is an index range instead of a scan of every event.
CREATE INDEX IF NOT EXISTS events_time_idx ON events (event_time(data));
