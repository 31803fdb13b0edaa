"""Customer personalization for the support assistant.

A plain library: it knows nothing of Rasa, so the action server, the CLI and batch jobs
share one implementation of profiles, segments, recommendations, sentiment and privacy.
"""

__version__ = "0.1.0"
