-- Customer profiles, keyed by a pseudonymous id that carries no personal data.
CREATE TABLE customers (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    email         text UNIQUE,
    country       text,
    language      text NOT NULL DEFAULT 'en',
    preferences   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX customers_lower_email_idx ON customers (lower(email));
