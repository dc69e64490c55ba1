"""Tests of trueup.store, on SQLite and PostgreSQL."""
