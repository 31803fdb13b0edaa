"""The rasa-sdk action server, one module per support journey.

Actions stay thin: they read the tracker, ask `personalization` (through
`actions.personalization_client`) and answer. They never raise to Rasa.
"""
