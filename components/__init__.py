"""Custom Rasa NLU graph components; thin adapters over the `personalization` library."""
