"""Shared plumbing of the mesh's services, written once.

A service brings its domain, handlers, tables and routes; this package brings
settings, logging, the database, the outbox relay, the consumer loop with its inbox
and dead-letter queue, metrics, health and the FastAPI application around them.
"""
