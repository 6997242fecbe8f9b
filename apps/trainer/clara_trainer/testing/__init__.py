"""Helpers for tests: a tiny, deterministic Llama model built locally (no downloads)."""
