"""Typed doors from the actions to the stores, one module per area.

Each gateway is a Protocol with async methods that answer an `actions.outcome.Outcome`, a
store-backed class that implements it over `actions.personalization_client.run`, and a
`Provider` the actions call to get it. Tests can put an in-process fake behind a provider,
so a journey's answers to an outage or a refusal can be tested without a database.
"""
