"""Keel: a self-hostable runtime for customer-facing LLM agents."""

__version__ = "0.1.0"
