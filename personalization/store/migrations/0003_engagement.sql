-- What the assistant learns and records about each customer, all erasable by customer id.

CREATE TABLE interactions (
    id           bigserial PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('purchase', 'view', 'article_opened',
                                               'recommendation_shown', 'recommendation_clicked')),
    item_id      text NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    context      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX interactions_customer_idx ON interactions (customer_id, occurred_at DESC);
CREATE INDEX interactions_item_idx ON interactions (kind, item_id);

CREATE TABLE message_sentiment (
    id               bigserial PRIMARY KEY,
    customer_id      text REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id  text NOT NULL,
    score            real NOT NULL CHECK (score BETWEEN -1 AND 1),
    label            text NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_sentiment_conversation_idx ON message_sentiment (conversation_id, created_at);
CREATE INDEX message_sentiment_customer_idx ON message_sentiment (customer_id, created_at);

CREATE TABLE feedback (
    id               bigserial PRIMARY KEY,
    customer_id      text REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id  text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('thumbs', 'csat')),
    value            smallint NOT NULL,
    response_style   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'thumbs' AND value IN (-1, 1)) OR (kind = 'csat' AND value BETWEEN 1 AND 5))
);
CREATE INDEX feedback_customer_idx ON feedback (customer_id, created_at);

CREATE TABLE support_tickets (
    id               bigserial PRIMARY KEY,
    customer_id      text REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id  text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'closed')),
    priority         text NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high', 'urgent')),
    reason           text NOT NULL,
    summary          text NOT NULL,
    context          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_tickets_customer_idx ON support_tickets (customer_id, created_at DESC);
CREATE INDEX support_tickets_open_idx ON support_tickets (status, priority) WHERE status <> 'closed';

-- Consent: the current state, and an audit entry for every change. The audit keeps only the
-- pseudonymous id, so it can outlive an erasure as proof of what was asked and done.
CREATE TABLE consents (
    customer_id      text PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    personalization  boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consent_audit (
    id           bigserial PRIMARY KEY,
    customer_id  text NOT NULL,
    action       text NOT NULL CHECK (action IN ('opt_out', 'opt_in', 'export', 'erase')),
    source       text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_audit_customer_idx ON consent_audit (customer_id, changed_at);

CREATE TABLE segment_assignments (
    customer_id    text PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    segment        text NOT NULL,
    cluster        integer,
    r_score        smallint NOT NULL CHECK (r_score BETWEEN 1 AND 5),
    f_score        smallint NOT NULL CHECK (f_score BETWEEN 1 AND 5),
    m_score        smallint NOT NULL CHECK (m_score BETWEEN 1 AND 5),
    recency_days   integer NOT NULL,
    frequency      integer NOT NULL,
    monetary       numeric(14, 2) NOT NULL,
    model_version  text NOT NULL,
    assigned_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segment_assignments_segment_idx ON segment_assignments (segment);

CREATE TABLE segment_history (
    id             bigserial PRIMARY KEY,
    customer_id    text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    segment        text NOT NULL,
    cluster        integer,
    r_score        smallint NOT NULL,
    f_score        smallint NOT NULL,
    m_score        smallint NOT NULL,
    model_version  text NOT NULL,
    assigned_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segment_history_customer_idx ON segment_history (customer_id, assigned_at DESC);
