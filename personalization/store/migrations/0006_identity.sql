-- Who each conversation was proven to be with, and every in-chat sign-in attempt.
-- Identifiers and client addresses are stored only as keyed hashes (HMAC under PSEUDONYM_KEY):
-- enough to count attempts and to audit, never an email or an address in the clear.

CREATE TABLE identity_proofs (
    id               bigserial PRIMARY KEY,
    conversation_id  text NOT NULL,
    customer_id      text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('rest', 'web', 'slack')),
    method           text NOT NULL CHECK (method IN ('token', 'slack_email', 'sign_in')),
    verified_at      timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);
CREATE INDEX identity_proofs_customer_idx ON identity_proofs (customer_id);
CREATE INDEX identity_proofs_conversation_idx ON identity_proofs (conversation_id);

CREATE TABLE sign_in_attempts (
    id               bigserial PRIMARY KEY,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    identifier_key   text NOT NULL,
    client_key       text NOT NULL,
    conversation_id  text NOT NULL,
    channel          text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('success', 'failure', 'locked', 'invalid')),
    customer_id      text REFERENCES customers (id) ON DELETE CASCADE
);
CREATE INDEX sign_in_attempts_identifier_idx ON sign_in_attempts (identifier_key, attempted_at);
CREATE INDEX sign_in_attempts_client_idx ON sign_in_attempts (client_key, attempted_at);
