"""A/B experiments: definitions, deterministic assignment, outcomes per arm, the report with
its statistics, the guardrail, and the simulator that proves the report."""
