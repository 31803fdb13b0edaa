-- A/B experiments: their definitions (synced from experiments.yml), who was assigned which
-- arm, and which conversations were served by it. Outcomes are not copied here: the report
-- reads them where they are recorded (feedback, support_tickets, interactions), by
-- conversation id, so an erasure of those rows also removes them from every report.

CREATE TABLE experiments (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    factor          text NOT NULL CHECK (factor IN ('personalization', 'response_style',
                                                    'recommender')),
    description     text NOT NULL DEFAULT '',
    arms            jsonb NOT NULL,
    control_arm     text NOT NULL,
    primary_metric  text NOT NULL,
    guardrails      text[] NOT NULL DEFAULT '{}',
    starts_at       timestamptz NOT NULL,
    stops_at        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (stops_at IS NULL OR stops_at > starts_at)
);

-- An arm a guardrail (or an operator) stopped: its units are served the control arm since.
CREATE TABLE experiment_arm_stops (
    experiment  text NOT NULL REFERENCES experiments (name) ON DELETE CASCADE,
    arm         text NOT NULL,
    reason      text NOT NULL,
    stopped_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment, arm)
);

-- The unit is a customer (who allows personalization) or, for anyone else, one conversation.
-- customer_id is set only for the first, so the foreign key erases it with the customer.
CREATE TABLE experiment_assignments (
    experiment   text NOT NULL REFERENCES experiments (name) ON DELETE CASCADE,
    unit_id      text NOT NULL,
    customer_id  text REFERENCES customers (id) ON DELETE CASCADE,
    arm          text NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment, unit_id)
);

-- One row per experiment and conversation: the unit's assigned arm (what the report counts,
-- whatever happened after), the arm that served it (the control once a guardrail stopped the
-- assigned one), when, and when the bot reached a resolution (it asked whether it helped).
CREATE TABLE experiment_exposures (
    experiment       text NOT NULL REFERENCES experiments (name) ON DELETE CASCADE,
    conversation_id  text NOT NULL,
    unit_id          text NOT NULL,
    customer_id      text REFERENCES customers (id) ON DELETE CASCADE,
    arm              text NOT NULL,
    served_arm       text NOT NULL,
    exposed_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    PRIMARY KEY (experiment, conversation_id)
);
CREATE INDEX experiment_exposures_conversation_idx ON experiment_exposures (conversation_id);

-- The report joins outcomes by conversation.
CREATE INDEX feedback_conversation_idx ON feedback (conversation_id);
CREATE INDEX support_tickets_conversation_idx ON support_tickets (conversation_id);
CREATE INDEX interactions_conversation_idx ON interactions ((context ->> 'conversation_id'))
    WHERE kind IN ('recommendation_shown', 'recommendation_clicked');
