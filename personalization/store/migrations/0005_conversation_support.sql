-- What the support conversation adds: the response-style bandit's counts per segment, the
-- returns customers request in the chat, and tickets that remember the style they were given.

CREATE TABLE style_bandit_arms (
    segment     text NOT NULL,
    arm         text NOT NULL,
    successes   integer NOT NULL DEFAULT 0 CHECK (successes >= 0),
    failures    integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment, arm)
);

CREATE TABLE return_requests (
    id               bigserial PRIMARY KEY,
    customer_id      text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id  text NOT NULL,
    order_id         text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          integer NOT NULL,
    stock_code       text NOT NULL REFERENCES products (stock_code),
    quantity         integer NOT NULL CHECK (quantity > 0),
    refund           numeric(12, 2) NOT NULL CHECK (refund >= 0),
    free_collection  boolean NOT NULL DEFAULT false,
    status           text NOT NULL DEFAULT 'requested'
                     CHECK (status IN ('requested', 'received', 'refunded', 'rejected')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, line_no)
);
CREATE INDEX return_requests_customer_idx ON return_requests (customer_id, created_at DESC);
