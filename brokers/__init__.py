"""Rasa event brokers of our own, referenced by module path from endpoints.yml."""
