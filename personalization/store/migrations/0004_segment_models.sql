-- Each full segmentation run is kept as a model, so one customer can be re-scored after an
-- order with the same quintile edges, scaling and clusters as everyone else.
CREATE TABLE segment_models (
    version     text PRIMARY KEY,
    as_of       timestamptz NOT NULL,
    params      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
