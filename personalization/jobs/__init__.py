"""Durable background work: erasure jobs, retention, and the worker process that runs them."""
