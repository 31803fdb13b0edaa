"""Rasa tracker and lock stores of this bot (named in endpoints.yml)."""
