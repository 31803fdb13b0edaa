-- Each customer's churn risk, P(no order in the next 90 days), with the factors behind it,
-- refreshed by `personalization segment`. Erasing a customer removes their row.

CREATE TABLE churn_scores (
    customer_id   text PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    risk          real NOT NULL CHECK (risk >= 0 AND risk <= 1),
    factors       jsonb NOT NULL,
    model_cutoff  date NOT NULL,
    scored_at     timestamptz NOT NULL
);
