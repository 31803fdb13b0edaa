"""What the operators' insights page shows: queries, the fairness audit, NLU candidates,
and one overview that gathers them for a period."""
